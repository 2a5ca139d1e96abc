//! The shared agenda: add, edit, tick off and move items; carry-over between meetings.
use super::*;
use std::ops::{Deref, DerefMut};

impl Duet {
    // ---- agenda -------------------------------------------------------------------------

    /// Adds an agenda item to `nb` in memory (the caller saves it, as one edit with
    /// whatever else it does).
    pub(super) fn add_item_in(
        &self,
        nb: &mut Notebook,
        text: &str,
        backlog: bool,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let author = self.me(nb)?;
        let id = ids::new_id();
        let now = now_millis();
        let new = NewItem {
            id: &id,
            text,
            author: &author,
            added_at: now,
            position: now as f64,
            carried_from: None,
            discussed: false,
            recur: None,
        };
        let item = if backlog {
            index::add_backlog(&mut nb.index()?.am, &new)?;
            let index = &nb.index()?.am;
            item::get(index, &index::backlog_obj(index)?, &id)?
        } else {
            let mid = resolve_meeting(&self.store, nb, meeting_id)?;
            let doc = &mut nb.meeting(&mid)?.am;
            meeting::add_item(doc, &new)?;
            item::get(doc, &meeting::agenda_obj(doc)?, &id)?
        };
        item.ok_or(DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// Applies `edit` to the live agenda item `item_id` (of the meeting, the carried ones, or
    /// the backlog) and returns it as it is then. Where two devices, one of them older,
    /// left copies of one item in two places, each copy is edited.
    fn edit_item(
        &mut self,
        what: &str,
        item_id: &str,
        meeting_id: Option<&str>,
        mut edit: impl FnMut(
            &mut automerge::AutoCommit,
            &ItemPlace,
            &automerge::ObjId,
            &str,
        ) -> Result<(), crate::model::ModelError>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.load()?;
        let places = self.find_item(&mut nb, item_id, meeting_id)?;
        let mut edited = None;
        for (place, id) in &places {
            let doc = place_doc(&mut nb, place)?;
            let items = items_obj(doc, place)?;
            edit(doc, place, &items, id)?;
            if edited.is_none() {
                edited = item::get(doc, &items, id)?;
            }
        }
        self.save(
            &mut nb,
            &undo::quoting(what, edited.as_ref().map_or("", |i| i.text.as_str())),
        )?;
        self.keep(nb);
        edited.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: item_id.to_owned(),
        })
    }

    /// The place of the live item `query` names that commands act on (the meeting's own
    /// copy first).
    pub(super) fn find_one(
        &self,
        nb: &mut Notebook,
        query: &str,
        meeting_id: Option<&str>,
    ) -> Result<(ItemPlace, String), DuetError> {
        self.find_item(nb, query, meeting_id)?
            .into_iter()
            .next()
            .ok_or_else(|| DuetError::NotFound {
                kind: "agenda item",
                query: query.to_owned(),
            })
    }

    /// Every place holding the live item `query` names: the backlog, the carried items, and
    /// the meeting's own agenda (usually one place; two when an older device copied an item
    /// this one carried).
    /// Every live agenda item's place and id: the backlog, the carried items, and the
    /// meeting's (the current one by default) own agenda.
    fn item_places(
        &self,
        nb: &mut Notebook,
        meeting_id: Option<&str>,
    ) -> Result<Vec<(ItemPlace, String)>, DuetError> {
        let index = &nb.index()?.am;
        let mut places: Vec<(ItemPlace, String)> = index::backlog(index)?
            .into_iter()
            .map(|i| (ItemPlace::Backlog, i.id))
            .chain(
                index::carried(index)?
                    .into_iter()
                    .map(|i| (ItemPlace::Carried, i.id)),
            )
            .collect();
        match resolve_meeting(&self.store, nb, meeting_id) {
            Ok(mid) => {
                let doc = &nb.meeting(&mid)?.am;
                places.extend(
                    meeting::agenda(doc)?
                        .into_iter()
                        .map(|i| (ItemPlace::Meeting(mid.clone()), i.id)),
                );
            }
            Err(DuetError::NoCurrentMeeting) => {}
            Err(e) => return Err(e),
        }
        Ok(places)
    }

    pub(super) fn find_item(
        &self,
        nb: &mut Notebook,
        query: &str,
        meeting_id: Option<&str>,
    ) -> Result<Vec<(ItemPlace, String)>, DuetError> {
        let mut candidates = self.item_places(nb, meeting_id)?;
        let id = resolve_id(
            "agenda item",
            query,
            candidates.iter().map(|(_, id)| id.as_str()),
        )?;
        // The meeting's own copy first: an older device's copy is the one it shows.
        candidates.sort_by_key(|(place, _)| !matches!(place, ItemPlace::Meeting(_)));
        Ok(candidates
            .into_iter()
            .filter(|(_, cid)| *cid == id)
            .collect())
    }
}

impl<D: Deref<Target = Duet>> Agenda<D> {
    /// The agenda of a meeting (the current one) and the backlog.
    pub fn list(
        &self,
        meeting_id: Option<&str>,
    ) -> Result<(Option<MeetingView>, Vec<AgendaItem>), DuetError> {
        let mut nb = self.duet.load()?;
        let backlog = nb.index_view(&self.duet.store)?.backlog.clone();
        let meeting = match resolve_meeting(&self.duet.store, &mut nb, meeting_id) {
            Ok(id) => Some(meeting_view(&self.duet.store, &mut nb, &id)?),
            Err(DuetError::NoCurrentMeeting) => None,
            Err(e) => return Err(e),
        };
        nb.flush_caches(&self.duet.store)?;
        self.duet.keep(nb);
        Ok((meeting, backlog))
    }

    /// The current meeting's undiscussed items carried `carried_at_least` times or more:
    /// what [`Agenda::tidy`] would move, most carried first.
    pub fn tidy_plan(&self, carried_at_least: u32) -> Result<Vec<AgendaItem>, DuetError> {
        let mut items: Vec<AgendaItem> = self
            .duet
            .read_meetings()
            .overview()?
            .meeting
            .map(|m| m.agenda)
            .unwrap_or_default()
            .into_iter()
            .filter(|i| !i.discussed && i.carried >= carried_at_least.max(1))
            .collect();
        items.sort_by(|a, b| b.carried.cmp(&a.carried).then(a.added_at.cmp(&b.added_at)));
        Ok(items)
    }
}

impl<D: DerefMut<Target = Duet>> Agenda<D> {
    /// Adds an agenda item to a meeting (the current one) or to the backlog.
    pub fn add(
        &mut self,
        text: &str,
        backlog: bool,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        let mut nb = self.duet.load()?;
        let item = self.duet.add_item_in(&mut nb, &text, backlog, meeting_id)?;
        let what = if backlog {
            "backlog item"
        } else {
            "agenda item"
        };
        self.duet.save(&mut nb, &undo::quoting(what, &text))?;
        self.duet.keep(nb);
        Ok(item)
    }

    /// Marks an agenda item (of the meeting, or the backlog) discussed.
    pub fn done(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.duet.load()?;
        // A carried item is on the current meeting's agenda: it records that meeting.
        let current = nb.current_meeting(&self.duet.store)?.map(|m| m.id);
        self.duet.keep(nb);
        self.duet.edit_item(
            "agenda item ticked",
            item_id,
            meeting_id,
            |doc, place, items, id| match (place, &current) {
                (ItemPlace::Carried, Some(m)) => item::set_discussed_in(doc, items, id, m),
                _ => item::set_discussed(doc, items, id, true),
            },
        )
    }

    /// Marks an agenda item not discussed after all.
    pub fn undone(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        self.duet.edit_item(
            "agenda item unticked",
            item_id,
            meeting_id,
            |doc, _, items, id| item::set_undiscussed(doc, items, id),
        )
    }

    /// Puts an agenda item just before or after another of the same agenda. The meeting's
    /// own items and the items carried to it are ordered each among themselves (the
    /// carried ones show after the others).
    pub fn order(
        &mut self,
        item_id: &str,
        order: &Order,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.duet.load()?;
        let (place, id) = self.duet.find_one(&mut nb, item_id, meeting_id)?;
        let (other_query, after) = match order {
            Order::Before(o) => (o.as_str(), false),
            Order::After(o) => (o.as_str(), true),
        };
        let (other_place, other) = self.duet.find_one(&mut nb, other_query, meeting_id)?;
        if other_place != place {
            return Err(DuetError::Invalid(format!(
                "agenda items {id} and {other} are not in the same list: the meeting's own \
                 items and the items carried to it are ordered each among themselves"
            )));
        }
        if other == id {
            return Err(DuetError::Invalid(format!(
                "agenda item {id} cannot go before or after itself"
            )));
        }
        let doc = place_doc(&mut nb, &place)?;
        let items = items_obj(doc, &place)?;
        let kept = match place {
            ItemPlace::Carried => item::Kept::Carried,
            ItemPlace::Backlog => item::Kept::ForLater,
            ItemPlace::Meeting(_) => item::Kept::All,
        };
        let list: Vec<(String, f64)> = item::positions(doc, &items, kept)?
            .into_iter()
            .filter(|(i, _)| *i != id)
            .collect();
        let at = list
            .iter()
            .position(|(i, _)| *i == other)
            .ok_or_else(|| DuetError::NotFound {
                kind: "agenda item",
                query: other.clone(),
            })?;
        let here = list[at].1;
        let position = if after {
            list.get(at + 1)
                .map_or(here + 1.0, |(_, next)| (here + next) / 2.0)
        } else {
            at.checked_sub(1)
                .and_then(|before| list.get(before))
                .map_or(here - 1.0, |(_, prev)| (prev + here) / 2.0)
        };
        item::set_position(doc, &items, &id, position)?;
        let moved = item::get(doc, &items, &id)?;
        self.duet.save(&mut nb, "agenda order")?;
        self.duet.keep(nb);
        moved.ok_or(DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// Drops an agenda item (of the meeting, the carried ones, or the backlog): it leaves
    /// every agenda, and an edit another device makes to it meanwhile is not revived.
    pub fn remove(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.duet.load()?;
        let places = self.duet.find_item(&mut nb, item_id, meeting_id)?;
        let mut dropped = None;
        for (place, id) in &places {
            let doc = place_doc(&mut nb, place)?;
            let items = items_obj(doc, place)?;
            dropped = Some(item::mark_moved(doc, &items, id, item::DROPPED)?);
        }
        self.duet.save(
            &mut nb,
            &undo::quoting(
                "agenda item dropped",
                dropped.as_ref().map_or("", |i| i.text.as_str()),
            ),
        )?;
        self.duet.keep(nb);
        dropped.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: item_id.to_owned(),
        })
    }

    /// Rewrites an agenda item's text (a minimal diff, so concurrent typing still merges).
    pub fn edit(
        &mut self,
        item_id: &str,
        text: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        self.duet.edit_item(
            "agenda item reworded",
            item_id,
            meeting_id,
            |doc, _, items, id| item::set_text(doc, items, id, &text),
        )
    }

    /// Moves the current meeting's items carried `carried_at_least` times or more to the
    /// backlog (or, with `drop`, drops them), in one edit; the items moved.
    pub fn tidy(
        &mut self,
        carried_at_least: u32,
        drop: bool,
    ) -> Result<Vec<AgendaItem>, DuetError> {
        let items = self.duet.agenda().tidy_plan(carried_at_least)?;
        if items.is_empty() {
            return Ok(items);
        }
        let mut nb = self.duet.load()?;
        // Where every item is, read once: a tidy moves hundreds of items.
        let places = self.duet.item_places(&mut nb, None)?;
        for item in &items {
            let here = places.iter().filter(|(_, id)| *id == item.id).cloned();
            for (place, id) in here.collect::<Vec<_>>() {
                if drop {
                    let doc = place_doc(&mut nb, &place)?;
                    let list = items_obj(doc, &place)?;
                    item::mark_moved(doc, &list, &id, item::DROPPED)?;
                } else if place != ItemPlace::Backlog {
                    move_item(&mut nb, &id, &place, &ItemPlace::Backlog)?;
                }
            }
        }
        self.duet.save(
            &mut nb,
            &format!(
                "agenda tidy: {} item{} {}",
                items.len(),
                if items.len() == 1 { "" } else { "s" },
                if drop { "dropped" } else { "to the backlog" }
            ),
        )?;
        self.duet.keep(nb);
        Ok(items)
    }

    /// Moves an agenda item to the backlog, the next meeting, or a named meeting.
    pub fn move_item(
        &mut self,
        item_id: &str,
        to: &MoveTarget,
        meeting_id: Option<&str>,
    ) -> Result<(AgendaItem, String), DuetError> {
        let mut nb = self.duet.load()?;
        let (from, id) = self.duet.find_one(&mut nb, item_id, meeting_id)?;
        let to_place = match to {
            MoveTarget::Backlog => ItemPlace::Backlog,
            MoveTarget::Meeting(m) => {
                ItemPlace::Meeting(resolve_meeting(&self.duet.store, &mut nb, Some(m))?)
            }
            MoveTarget::Next => {
                let after = match &from {
                    ItemPlace::Meeting(m) => Some(m.clone()),
                    // A carried item is on the current meeting's agenda.
                    ItemPlace::Carried => nb.current_meeting(&self.duet.store)?.map(|m| m.id),
                    ItemPlace::Backlog => None,
                };
                let next = index::meetings(&nb.index()?.am)?
                    .into_iter()
                    .find(|m| m.status.is_upcoming() && Some(&m.id) != after.as_ref())
                    .ok_or(DuetError::NoCurrentMeeting)?;
                ItemPlace::Meeting(next.id)
            }
        };
        if to_place == from {
            return Err(DuetError::Invalid(format!(
                "agenda item {id} is already there"
            )));
        }
        move_item(&mut nb, &id, &from, &to_place)?;
        let doc = place_doc(&mut nb, &to_place)?;
        let item = item::get(doc, &items_obj(doc, &to_place)?, &id)?;
        self.duet.save(
            &mut nb,
            &undo::quoting(
                "agenda item moved",
                item.as_ref().map_or("", |i| i.text.as_str()),
            ),
        )?;
        let item = item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })?;
        Ok((item, to_place.name().to_owned()))
    }
}

/// Where an agenda item lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemPlace {
    /// Kept for later.
    Backlog,
    /// Carried from an ended meeting (in the index, beside the backlog).
    Carried,
    /// In a meeting's own agenda.
    Meeting(String),
}

impl ItemPlace {
    /// What a move out of here records as `moved_to` and reports: carried items live in
    /// the backlog's map, so devices reconcile late edits to them there.
    fn name(&self) -> &str {
        match self {
            ItemPlace::Backlog | ItemPlace::Carried => "backlog",
            ItemPlace::Meeting(m) => m,
        }
    }
}

/// The document holding a place's items.
pub(super) fn place_doc<'a>(
    nb: &'a mut Notebook,
    place: &ItemPlace,
) -> Result<&'a mut automerge::AutoCommit, DuetError> {
    Ok(match place {
        ItemPlace::Backlog | ItemPlace::Carried => &mut nb.index()?.am,
        ItemPlace::Meeting(m) => &mut nb.meeting(m)?.am,
    })
}

/// The map holding the items of a place.
pub(super) fn items_obj(
    doc: &automerge::AutoCommit,
    place: &ItemPlace,
) -> Result<automerge::ObjId, DuetError> {
    Ok(match place {
        ItemPlace::Backlog | ItemPlace::Carried => index::backlog_obj(doc)?,
        ItemPlace::Meeting(_) => meeting::agenda_obj(doc)?,
    })
}

/// Moves one item: a copy under the same id in its new home, the original marked moved.
/// A carried item kept for later stays where it is, flagged. A carried item that was
/// ticked keeps its tick in the meeting it moves to.
pub(super) fn move_item(
    nb: &mut Notebook,
    id: &str,
    from: &ItemPlace,
    to: &ItemPlace,
) -> Result<(), DuetError> {
    if (from, to) == (&ItemPlace::Carried, &ItemPlace::Backlog) {
        let index = &mut nb.index()?.am;
        let items = index::backlog_obj(index)?;
        item::set_carried(index, &items, id, false)?;
        return Ok(());
    }
    let source = place_doc(nb, from)?;
    let items = items_obj(source, from)?;
    let original = item::mark_moved(source, &items, id, to.name())?;
    let carried_from = match from {
        ItemPlace::Meeting(m) => Some(m.as_str()),
        ItemPlace::Backlog | ItemPlace::Carried => original.carried_from.as_deref(),
    };
    let new = NewItem {
        id,
        text: &original.text,
        author: &original.author,
        added_at: original.added_at,
        position: original.added_at as f64,
        carried_from,
        discussed: *from == ItemPlace::Carried && original.discussed,
        recur: original.recurring.as_deref(),
    };
    match to {
        ItemPlace::Backlog => {
            index::add_backlog(&mut nb.index()?.am, &new)?;
        }
        ItemPlace::Carried => index::carry_in(&mut nb.index()?.am, &new)?,
        ItemPlace::Meeting(m) => {
            meeting::add_item(&mut nb.meeting(m)?.am, &new)?;
        }
    }
    Ok(())
}

/// When meeting `ended` ends: its undiscussed items are carried (moved once into the index,
/// where they stay on the current agenda however many meetings end), and carried items
/// ticked since move into the meeting they were ticked in. Returns the ids of every item
/// now carried to the next meeting.
pub(super) fn carry_over(nb: &mut Notebook, ended: &str) -> Result<Vec<String>, DuetError> {
    let pending: Vec<String> = meeting::agenda(&nb.meeting(ended)?.am)?
        .into_iter()
        .filter(|i| !i.discussed)
        .map(|i| i.id)
        .collect();
    for id in &pending {
        move_item(
            nb,
            id,
            &ItemPlace::Meeting(ended.to_owned()),
            &ItemPlace::Carried,
        )?;
    }
    let index = &nb.index()?.am;
    let items = index::backlog_obj(index)?;
    let mut ticked = Vec::new();
    let mut carried = Vec::new();
    for i in index::carried(index)? {
        if i.discussed {
            let to = item::discussed_in(index, &items, &i.id)?.unwrap_or_else(|| ended.to_owned());
            ticked.push((i.id, to));
        } else {
            carried.push(i.id);
        }
    }
    for (id, to) in ticked {
        // The meeting it was ticked in may not have reached this device: the one ending now.
        let to = if nb.has_meeting(&to)? {
            to
        } else {
            ended.to_owned()
        };
        move_item(nb, &id, &ItemPlace::Carried, &ItemPlace::Meeting(to))?;
    }
    Ok(carried)
}
