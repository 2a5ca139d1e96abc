//! Questions: the built-in bank and the pair's own, which one to ask next, and asking it.
use super::*;
use crate::model::questions::{self, Question};
use std::ops::{Deref, DerefMut};

/// What `ask` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    /// The question.
    pub question: Question,
    /// The meeting it was asked in.
    pub meeting: String,
    /// The agenda item made for it, when it was added to the agenda.
    pub item: Option<AgendaItem>,
}

impl<D: Deref<Target = Duet>> Questions<D> {
    /// Every question: the bank, then the pair's own, with when each was asked.
    pub fn list(&self) -> Result<Vec<Question>, DuetError> {
        let mut nb = self.duet.load()?;
        let all = questions::all(&nb.index()?.am)?;
        self.duet.keep(nb);
        Ok(all)
    }

    /// The question to ask in the current meeting: one not asked before, or the one asked
    /// longest ago. Both people get the same suggestion for the same meeting.
    pub fn suggest(&self) -> Result<Option<Question>, DuetError> {
        let mut nb = self.duet.load()?;
        let seed = nb
            .current_meeting(&self.duet.store)?
            .map(|m| m.id)
            .unwrap_or_default();
        let all = questions::all(&nb.index()?.am)?;
        self.duet.keep(nb);
        Ok(questions::suggest(&all, &seed).cloned())
    }
}

impl<D: DerefMut<Target = Duet>> Questions<D> {
    /// Adds one of the pair's own questions to the bank of this notebook.
    pub fn add(&mut self, text: &str) -> Result<Question, DuetError> {
        let text = clean_text(text, "question")?;
        let mut nb = self.duet.load()?;
        let me = self.duet.me(&mut nb)?;
        let id = ids::new_id();
        questions::add_own(&mut nb.index()?.am, &id, &text, &me, now_millis())?;
        self.duet.save(&mut nb, &undo::quoting("question", &text))?;
        let added = questions::all(&nb.index()?.am)?
            .into_iter()
            .find(|q| q.id == id);
        self.duet.keep(nb);
        added.ok_or(DuetError::NotFound {
            kind: "question",
            query: id,
        })
    }

    /// Asks a question (by id prefix, or the suggested one) in the current meeting: it is
    /// remembered as asked there, and with `add_to_agenda` it goes on the meeting's agenda.
    pub fn ask(&mut self, query: Option<&str>, add_to_agenda: bool) -> Result<Asked, DuetError> {
        let question = match query {
            Some(q) => {
                let all = self.duet.questions().list()?;
                let id = resolve_id("question", q, all.iter().map(|q| q.id.as_str()))?;
                all.into_iter()
                    .find(|q| q.id == id)
                    .ok_or(DuetError::NotFound {
                        kind: "question",
                        query: id,
                    })?
            }
            None => self
                .duet
                .questions()
                .suggest()?
                .ok_or(DuetError::NotFound {
                    kind: "question",
                    query: "any".into(),
                })?,
        };
        let mut nb = self.duet.load()?;
        let meeting = resolve_meeting(&self.duet.store, &mut nb, None)?;
        // Asked and put on the agenda in one edit, so one undo takes back both.
        let item = if add_to_agenda {
            Some(
                self.duet
                    .add_item_in(&mut nb, &question.text, false, None)?,
            )
        } else {
            None
        };
        questions::mark_asked(&mut nb.index()?.am, &question.id, &meeting, now_millis())?;
        self.duet
            .save(&mut nb, &undo::quoting("question asked", &question.text))?;
        let question = questions::all(&nb.index()?.am)?
            .into_iter()
            .find(|q| q.id == question.id)
            .unwrap_or(question);
        self.duet.keep(nb);
        Ok(Asked {
            question,
            meeting,
            item,
        })
    }
}
