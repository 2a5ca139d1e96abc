//! The shared agenda: add, edit, tick off and move items; carry-over between meetings.
use super::*;

impl Duet {
    // ---- agenda -------------------------------------------------------------------------

    /// Adds an agenda item to a meeting (the current one) or to the backlog.
    pub fn agenda_add(
        &mut self,
        text: &str,
        backlog: bool,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        let mut nb = self.load()?;
        let author = self.me(&mut nb)?;
        let id = ids::new_id();
        let now = now_millis();
        let new = NewItem {
            id: &id,
            text: &text,
            author: &author,
            added_at: now,
            position: now as f64,
            carried_from: None,
            discussed: false,
        };
        let item = if backlog {
            index::add_backlog(&mut nb.index()?.am, &new)?;
            let index = &nb.index()?.am;
            item::get(index, &index::backlog_obj(index)?, &id)?
        } else {
            let mid = resolve_meeting(&self.store, &mut nb, meeting_id)?;
            let doc = &mut nb.meeting(&mid)?.am;
            meeting::add_item(doc, &new)?;
            item::get(doc, &meeting::agenda_obj(doc)?, &id)?
        };
        self.save(&mut nb)?;
        self.keep(nb);
        item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// The agenda of a meeting (the current one) and the backlog.
    pub fn agenda(
        &self,
        meeting_id: Option<&str>,
    ) -> Result<(Option<MeetingView>, Vec<AgendaItem>), DuetError> {
        let mut nb = self.load()?;
        let backlog = index::backlog(&nb.index()?.am)?;
        let meeting = match resolve_meeting(&self.store, &mut nb, meeting_id) {
            Ok(id) => Some(meeting_view(&self.store, &mut nb, &id)?),
            Err(DuetError::NoCurrentMeeting) => None,
            Err(e) => return Err(e),
        };
        Ok((meeting, backlog))
    }

    /// Marks an agenda item (of the meeting, or the backlog) discussed.
    pub fn agenda_done(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        self.edit_item(item_id, meeting_id, |doc, items, id| {
            item::set_discussed(doc, items, id, true)
        })
    }

    /// Applies `edit` to the live agenda item `item_id` (of the meeting, or the backlog) and
    /// returns it as it is then.
    fn edit_item(
        &mut self,
        item_id: &str,
        meeting_id: Option<&str>,
        edit: impl FnOnce(
            &mut automerge::AutoCommit,
            &automerge::ObjId,
            &str,
        ) -> Result<(), crate::model::ModelError>,
    ) -> Result<AgendaItem, DuetError> {
        let mut nb = self.load()?;
        let (place, id) = self.find_item(&mut nb, item_id, meeting_id)?;
        let doc = match &place {
            ItemPlace::Backlog => &mut nb.index()?.am,
            ItemPlace::Meeting(m) => &mut nb.meeting(m)?.am,
        };
        let items = items_obj(doc, &place)?;
        edit(doc, &items, &id)?;
        let item = item::get(doc, &items, &id)?;
        self.save(&mut nb)?;
        self.keep(nb);
        item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })
    }

    /// Rewrites an agenda item's text (a minimal diff, so concurrent typing still merges).
    pub fn agenda_edit(
        &mut self,
        item_id: &str,
        text: &str,
        meeting_id: Option<&str>,
    ) -> Result<AgendaItem, DuetError> {
        let text = clean_text(text, "agenda item")?;
        self.edit_item(item_id, meeting_id, |doc, items, id| {
            item::set_text(doc, items, id, &text)
        })
    }

    /// Moves an agenda item to the backlog, the next meeting, or a named meeting.
    pub fn agenda_move(
        &mut self,
        item_id: &str,
        to: &MoveTarget,
        meeting_id: Option<&str>,
    ) -> Result<(AgendaItem, String), DuetError> {
        let mut nb = self.load()?;
        let (from, id) = self.find_item(&mut nb, item_id, meeting_id)?;
        let to_place = match to {
            MoveTarget::Backlog => ItemPlace::Backlog,
            MoveTarget::Meeting(m) => {
                ItemPlace::Meeting(resolve_meeting(&self.store, &mut nb, Some(m))?)
            }
            MoveTarget::Next => {
                let after = match &from {
                    ItemPlace::Meeting(m) => Some(m.clone()),
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
        let doc = match &to_place {
            ItemPlace::Backlog => &nb.index()?.am,
            ItemPlace::Meeting(m) => &nb.meeting(m)?.am,
        };
        let item = item::get(doc, &items_obj(doc, &to_place)?, &id)?;
        self.save(&mut nb)?;
        let item = item.ok_or_else(|| DuetError::NotFound {
            kind: "agenda item",
            query: id,
        })?;
        Ok((item, to_place.name().to_owned()))
    }

    fn find_item(
        &self,
        nb: &mut Notebook,
        query: &str,
        meeting_id: Option<&str>,
    ) -> Result<(ItemPlace, String), DuetError> {
        let mut candidates: Vec<(ItemPlace, String)> = index::backlog(&nb.index()?.am)?
            .into_iter()
            .map(|i| (ItemPlace::Backlog, i.id))
            .collect();
        match resolve_meeting(&self.store, nb, meeting_id) {
            Ok(mid) => {
                let doc = &nb.meeting(&mid)?.am;
                candidates.extend(
                    meeting::agenda(doc)?
                        .into_iter()
                        .map(|i| (ItemPlace::Meeting(mid.clone()), i.id)),
                );
            }
            Err(DuetError::NoCurrentMeeting) => {}
            Err(e) => return Err(e),
        }
        let id = resolve_id(
            "agenda item",
            query,
            candidates.iter().map(|(_, id)| id.as_str()),
        )?;
        candidates
            .into_iter()
            .find(|(_, cid)| *cid == id)
            .ok_or(DuetError::NotFound {
                kind: "agenda item",
                query: query.to_owned(),
            })
    }
}

/// Where an agenda item lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemPlace {
    Backlog,
    Meeting(String),
}

impl ItemPlace {
    fn name(&self) -> &str {
        match self {
            ItemPlace::Backlog => "backlog",
            ItemPlace::Meeting(m) => m,
        }
    }
}

/// The map holding the items of a place.
pub(super) fn items_obj(
    doc: &automerge::AutoCommit,
    place: &ItemPlace,
) -> Result<automerge::ObjId, DuetError> {
    Ok(match place {
        ItemPlace::Backlog => index::backlog_obj(doc)?,
        ItemPlace::Meeting(_) => meeting::agenda_obj(doc)?,
    })
}

/// Moves one item: a copy under the same id in its new home, the original marked moved.
pub(super) fn move_item(
    nb: &mut Notebook,
    id: &str,
    from: &ItemPlace,
    to: &ItemPlace,
) -> Result<(), DuetError> {
    let source = match from {
        ItemPlace::Backlog => &mut nb.index()?.am,
        ItemPlace::Meeting(m) => &mut nb.meeting(m)?.am,
    };
    let items = items_obj(source, from)?;
    let original = item::mark_moved(source, &items, id, to.name())?;
    let carried_from = match from {
        ItemPlace::Meeting(m) => Some(m.as_str()),
        ItemPlace::Backlog => original.carried_from.as_deref(),
    };
    let new = NewItem {
        id,
        text: &original.text,
        author: &original.author,
        added_at: original.added_at,
        position: original.added_at as f64,
        carried_from,
        discussed: false,
    };
    match to {
        ItemPlace::Backlog => {
            index::add_backlog(&mut nb.index()?.am, &new)?;
        }
        ItemPlace::Meeting(m) => {
            meeting::add_item(&mut nb.meeting(m)?.am, &new)?;
        }
    }
    Ok(())
}

/// Moves the undiscussed items of meeting `from` to meeting `to`; returns their ids.
pub(super) fn carry_over(
    nb: &mut Notebook,
    from: &str,
    to: &str,
) -> Result<Vec<String>, DuetError> {
    let pending: Vec<String> = meeting::agenda(&nb.meeting(from)?.am)?
        .into_iter()
        .filter(|i| !i.discussed)
        .map(|i| i.id)
        .collect();
    for id in &pending {
        move_item(
            nb,
            id,
            &ItemPlace::Meeting(from.to_owned()),
            &ItemPlace::Meeting(to.to_owned()),
        )?;
    }
    Ok(pending)
}
