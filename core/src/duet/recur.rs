//! Recurring talking points: added by either person, seen by both, put on the agenda of
//! each meeting they are due on when that meeting becomes current (see `model::recur`).
use super::*;
use crate::model::recur::{self, Recurring, Rule, MAX_EVERY};
use std::ops::{Deref, DerefMut};

impl Duet {
    /// Puts each recurring point due on the current meeting on its agenda, once: under the
    /// occurrence's own id, so a second device doing the same makes the same item. A point
    /// whose earlier occurrence is still open on the agenda is not added again. Returns how
    /// many were added.
    pub(super) fn add_due_points(&self, nb: &mut Notebook) -> Result<usize, DuetError> {
        let points: Vec<Recurring> = recur::all(&nb.index()?.am)?
            .into_iter()
            .filter(|p| p.stopped_at.is_none())
            .collect();
        if points.is_empty() {
            return Ok(0);
        }
        let Some(current) = nb.current_meeting(&self.store)? else {
            return Ok(0);
        };
        let index = &mut nb.index()?.am;
        let meetings = index::meetings(index)?;
        let open = index::carried(index)?;
        let backlog = index::backlog_obj(index)?;
        let now = now_millis();
        let mut added = 0;
        for point in &points {
            let Some(occurrence) = recur::occurrence(point.rule, &meetings, &current.id) else {
                continue;
            };
            let id = recur::occurrence_id(&point.id, &occurrence);
            let known = automerge::ReadDoc::get(index, &backlog, id.as_str())
                .map_err(crate::model::ModelError::from)?
                .is_some();
            let still_open = open
                .iter()
                .any(|i| i.recurring.as_deref() == Some(point.id.as_str()) && !i.discussed);
            if known || still_open {
                continue;
            }
            index::carry_in(
                index,
                &NewItem {
                    id: &id,
                    text: &point.text,
                    author: &point.author,
                    added_at: now,
                    position: now as f64,
                    carried_from: None,
                    discussed: false,
                    recur: Some(&point.id),
                },
            )?;
            added += 1;
        }
        Ok(added)
    }
}

impl<D: Deref<Target = Duet>> Agenda<D> {
    /// The current notebook's recurring points, stopped ones too, oldest first.
    pub fn recurring(&self) -> Result<Vec<Recurring>, DuetError> {
        let mut nb = self.duet.load()?;
        let all = recur::all(&nb.index()?.am)?;
        self.duet.keep(nb);
        Ok(all)
    }
}

impl<D: DerefMut<Target = Duet>> Agenda<D> {
    /// Adds a recurring talking point to the current notebook; when the current meeting is
    /// one it is due on, it goes on that agenda now.
    pub fn add_recurring(&mut self, text: &str, rule: Rule) -> Result<Recurring, DuetError> {
        let text = clean_text(text, "recurring point")?;
        if let Rule::Every(n) = rule {
            if !(1..=MAX_EVERY).contains(&n) {
                return Err(DuetError::Invalid(format!(
                    "a point comes back every 1 to {MAX_EVERY} meetings (got {n})"
                )));
            }
        }
        let mut nb = self.duet.load()?;
        let point = Recurring {
            id: ids::new_id(),
            text,
            rule,
            author: self.duet.me(&mut nb)?,
            added_at: now_millis(),
            stopped_at: None,
        };
        recur::add(&mut nb.index()?.am, &point)?;
        self.duet.add_due_points(&mut nb)?;
        self.duet.save(
            &mut nb,
            &undo::quoting(&format!("recurring point, {}", point.rule), &point.text),
        )?;
        self.duet.keep(nb);
        Ok(point)
    }

    /// Stops a recurring point (by id prefix): no later meeting gets it.
    pub fn stop_recurring(&mut self, query: &str) -> Result<Recurring, DuetError> {
        let mut nb = self.duet.load()?;
        let all = recur::all(&nb.index()?.am)?;
        let id = resolve_id("recurring point", query, all.iter().map(|p| p.id.as_str()))?;
        recur::stop(&mut nb.index()?.am, &id, now_millis())?;
        let stopped = recur::all(&nb.index()?.am)?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(DuetError::NotFound {
                kind: "recurring point",
                query: id,
            })?;
        self.duet.save(
            &mut nb,
            &undo::quoting("recurring point stopped", &stopped.text),
        )?;
        self.duet.keep(nb);
        Ok(stopped)
    }
}
