//! What `duet meet` shows and what its keys do: the view's state and the commands keys
//! turn into. No terminal here, so every key's effect is tested as plain data.

use duet_core::model::views::{fold_agenda, AgendaItem, CarriedBand};
use duet_core::{Section, SheetSource};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The longest line the input takes (a paragraph of notes; longer text belongs in `duet edit`).
pub const MAX_INPUT_CHARS: usize = 4000;

/// What the view is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Moving through the agenda.
    Browse,
    /// Typing a line for `target`.
    Typing {
        /// Where the line goes.
        target: Target,
        /// What is typed so far.
        input: String,
    },
}

/// Where a typed line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A paragraph of a section.
    Section(Section),
    /// A new agenda item.
    NewItem,
}

/// What a key asks the view to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave (every edit is already saved).
    Quit,
    /// Run a `duet` command (its arguments) on the home, then show the meeting again.
    Run(Vec<String>),
}

/// The view's state.
#[derive(Debug)]
pub struct App {
    /// The meeting as last read.
    pub source: SheetSource,
    /// Its agenda as shown: the items carried again and again fold into `bands`.
    shown: Vec<AgendaItem>,
    /// The folded items, a line per band of how often they were carried.
    pub bands: Vec<CarriedBand>,
    /// The selected agenda item, by index.
    pub selected: usize,
    /// Browsing or typing.
    pub mode: Mode,
    /// The last command's outcome: text, and whether it failed.
    pub status: Option<(String, bool)>,
    /// Where the link to the other device stands, in a few words.
    pub link: String,
    /// An item the selection goes to once the meeting is read again (one just moved).
    follow: Option<String>,
}

impl App {
    pub fn new(source: SheetSource, link: String) -> App {
        let (shown, bands) = folded(&source);
        App {
            source,
            shown,
            bands,
            selected: 0,
            mode: Mode::Browse,
            status: None,
            link,
            follow: None,
        }
    }

    /// The agenda items shown one by one (the long-carried ones fold into [`App::bands`]).
    pub fn agenda(&self) -> &[AgendaItem] {
        &self.shown
    }

    /// The selected item, if the agenda has any.
    pub fn selected_item(&self) -> Option<&AgendaItem> {
        self.agenda().get(self.selected)
    }

    /// Takes a freshly read meeting, keeping the selection on the same item.
    pub fn refresh(&mut self, source: SheetSource) {
        let keep = self
            .follow
            .take()
            .or_else(|| self.selected_item().map(|i| i.id.clone()));
        (self.shown, self.bands) = folded(&source);
        self.source = source;
        if let Some(id) = keep {
            if let Some(at) = self.agenda().iter().position(|i| i.id == id) {
                self.selected = at;
            }
        }
        self.selected = self.selected.min(self.agenda().len().saturating_sub(1));
    }

    /// What a key does.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d'))
        {
            return Some(Action::Quit);
        }
        match &mut self.mode {
            Mode::Browse => self.browse(key),
            Mode::Typing { target, input } => {
                let target = *target;
                match key.code {
                    KeyCode::Esc => {
                        self.mode = Mode::Browse;
                        None
                    }
                    KeyCode::Enter => {
                        let text = input.trim().to_owned();
                        self.mode = Mode::Browse;
                        if text.is_empty() {
                            return None;
                        }
                        Some(Action::Run(self.write(target, text)))
                    }
                    KeyCode::Backspace => {
                        input.pop();
                        None
                    }
                    KeyCode::Char(c) if input.chars().count() < MAX_INPUT_CHARS => {
                        input.push(c);
                        None
                    }
                    _ => None,
                }
            }
        }
    }

    fn browse(&mut self, key: KeyEvent) -> Option<Action> {
        let last = self.agenda().len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(last);
                None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                None
            }
            KeyCode::Char(' ') | KeyCode::Char('x') => {
                let item = self.selected_item()?;
                let verb = if item.discussed { "undone" } else { "done" };
                let id = item.id.clone();
                Some(self.agenda_command(&[verb, &id]))
            }
            KeyCode::Char('u') => Some(Action::Run(vec!["undo".into()])),
            KeyCode::Char('r') | KeyCode::Char('R')
                if key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                Some(Action::Run(vec!["redo".into()]))
            }
            KeyCode::Char('K') => self.reorder(-1),
            KeyCode::Char('J') => self.reorder(1),
            KeyCode::Char('a') => {
                self.typing(Target::NewItem);
                None
            }
            KeyCode::Char('n') | KeyCode::Enter => {
                self.typing(Target::Section(Section::Notes));
                None
            }
            KeyCode::Char(c @ '1'..='8') => {
                let at = c as usize - '1' as usize;
                self.typing(Target::Section(Section::ALL[at]));
                None
            }
            _ => None,
        }
    }

    /// The selected item one place up (-1) or down (1), among the items of its list.
    fn reorder(&mut self, by: isize) -> Option<Action> {
        let item = self.selected_item()?.clone();
        let neighbour = self
            .selected
            .checked_add_signed(by)
            .and_then(|at| self.agenda().get(at))?
            .clone();
        // Carried items show after the meeting's own and are ordered among themselves.
        if item.carried_from.is_some() != neighbour.carried_from.is_some() {
            self.status = Some((
                "Items carried from earlier meetings stay after this meeting's own.".into(),
                true,
            ));
            return None;
        }
        let place = if by < 0 { "--before" } else { "--after" };
        self.follow = Some(item.id.clone());
        Some(self.agenda_command(&["order", &item.id, place, &neighbour.id]))
    }

    fn typing(&mut self, target: Target) {
        self.status = None;
        self.mode = Mode::Typing {
            target,
            input: String::new(),
        };
    }

    fn meeting(&self) -> String {
        self.source.meeting.summary.id.clone()
    }

    fn agenda_command(&self, args: &[&str]) -> Action {
        let mut argv = vec!["agenda".to_owned()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv.extend(["--meeting".to_owned(), self.meeting()]);
        Action::Run(argv)
    }

    /// The command a typed line becomes. The text goes after `--`, so a line that starts
    /// with a dash is text, not a flag.
    fn write(&self, target: Target, text: String) -> Vec<String> {
        let mut argv: Vec<String> = match target {
            Target::Section(section) => {
                vec!["note".into(), "--section".into(), section.key().into()]
            }
            Target::NewItem => vec!["agenda".into(), "add".into()],
        };
        argv.extend(["--meeting".into(), self.meeting(), "--".into(), text]);
        argv
    }
}

/// A meeting's agenda as shown, and the bands its long-carried items fold into.
fn folded(source: &SheetSource) -> (Vec<AgendaItem>, Vec<CarriedBand>) {
    let agenda = fold_agenda(&source.meeting.agenda);
    (agenda.shown.into_iter().cloned().collect(), agenda.bands)
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_carried_items_fold_out_of_the_selectable_agenda() {
        let mut items: Vec<AgendaItem> = (0..8)
            .map(|n| {
                let mut i = item(&format!("c{n}"), false, true);
                i.carried = 6;
                i
            })
            .collect();
        items.push(item("fresh", false, false));
        let mut a = app(items);
        assert_eq!(
            a.agenda().iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            vec!["fresh"]
        );
        assert_eq!(a.bands.len(), 1);
        assert_eq!(a.bands[0].count, 8);
        a.on_key(key(KeyCode::Down));
        assert_eq!(a.selected, 0, "a band is not an item to select");
    }

    #[test]
    fn u_undoes_and_ctrl_r_redoes_while_browsing_not_while_typing() {
        let mut a = app(vec![item("i1", false, false)]);
        assert_eq!(
            a.on_key(key(KeyCode::Char('u'))),
            Some(Action::Run(vec!["undo".into()]))
        );
        assert_eq!(
            a.on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::Run(vec!["redo".into()]))
        );
        assert_eq!(
            a.on_key(key(KeyCode::Char('r'))),
            None,
            "r alone does nothing"
        );
        a.on_key(key(KeyCode::Char('a')));
        assert_eq!(a.on_key(key(KeyCode::Char('u'))), None, "u is typed text");
    }

    use super::*;
    use duet_core::model::views::{MeetingSummary, MeetingView, SectionText};
    use duet_core::model::MeetingStatus;
    use duet_core::SheetHeads;
    use ratatui::crossterm::event::KeyEvent;

    fn item(id: &str, discussed: bool, carried: bool) -> AgendaItem {
        AgendaItem {
            id: id.into(),
            text: format!("item {id}"),
            author: "p1".into(),
            added_at: 0,
            discussed,
            carried_from: carried.then(|| "m0".to_owned()),
            also: vec![],
            carried: u32::from(carried),
            recurring: None,
        }
    }

    fn app(agenda: Vec<AgendaItem>) -> App {
        App::new(
            SheetSource {
                notebook: "n1".into(),
                meeting: MeetingView {
                    summary: MeetingSummary {
                        id: "m1".into(),
                        date: "2026-12-08".into(),
                        status: MeetingStatus::Scheduled,
                        conflicts: vec![],
                        reschedules: 0,
                        planned: None,
                        minutes: None,
                    },
                    agenda,
                    sections: Section::ALL
                        .into_iter()
                        .map(|section| SectionText {
                            section,
                            text: String::new(),
                        })
                        .collect(),
                    commitments: vec![],
                },
                title: "Ana / Bo".into(),
                people: vec![],
                me: None,
                heads: SheetHeads::default(),
            },
            "offline".into(),
        )
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    fn run(args: &[&str]) -> Option<Action> {
        Some(Action::Run(args.iter().map(|a| (*a).to_owned()).collect()))
    }

    #[test]
    fn space_ticks_and_unticks_the_selected_item() {
        let mut a = app(vec![item("aa", false, false), item("bb", true, false)]);
        assert_eq!(
            a.on_key(key(KeyCode::Char(' '))),
            run(&["agenda", "done", "aa", "--meeting", "m1"])
        );
        a.on_key(key(KeyCode::Down));
        assert_eq!(
            a.on_key(key(KeyCode::Char('x'))),
            run(&["agenda", "undone", "bb", "--meeting", "m1"])
        );
        // The selection stops at the ends.
        a.on_key(key(KeyCode::Down));
        assert_eq!(a.selected, 1);
    }

    #[test]
    fn a_typed_line_becomes_a_note_in_the_chosen_section() {
        let mut a = app(vec![]);
        assert_eq!(a.on_key(key(KeyCode::Char('2'))), None);
        for c in "-5% churn".chars() {
            assert_eq!(a.on_key(key(KeyCode::Char(c))), None);
        }
        a.on_key(key(KeyCode::Backspace));
        assert_eq!(
            a.on_key(key(KeyCode::Enter)),
            run(&[
                "note",
                "--section",
                "wins",
                "--meeting",
                "m1",
                "--",
                "-5% chur"
            ])
        );
        assert_eq!(a.mode, Mode::Browse);
        // Esc leaves the line without writing; an empty line writes nothing.
        a.on_key(key(KeyCode::Char('a')));
        a.on_key(key(KeyCode::Char('z')));
        assert_eq!(a.on_key(key(KeyCode::Esc)), None);
        a.on_key(key(KeyCode::Char('n')));
        assert_eq!(a.on_key(key(KeyCode::Enter)), None);
        // While typing, q is a letter, not quit.
        a.on_key(key(KeyCode::Char('a')));
        assert_eq!(a.on_key(key(KeyCode::Char('q'))), None);
        assert_eq!(
            a.on_key(key(KeyCode::Enter)),
            run(&["agenda", "add", "--meeting", "m1", "--", "q"])
        );
        assert_eq!(a.on_key(key(KeyCode::Char('q'))), Some(Action::Quit));
    }

    #[test]
    fn shift_j_and_k_reorder_within_a_list_only() {
        let mut a = app(vec![
            item("aa", false, false),
            item("bb", false, false),
            item("cc", false, true),
        ]);
        assert_eq!(a.on_key(key(KeyCode::Char('K'))), None, "already first");
        assert_eq!(
            a.on_key(key(KeyCode::Char('J'))),
            run(&["agenda", "order", "aa", "--after", "bb", "--meeting", "m1"])
        );
        let mut moved = a.source.clone();
        moved.meeting.agenda.swap(0, 1);
        a.refresh(moved);
        assert_eq!(a.selected, 1, "the selection follows the item");
        assert_eq!(
            a.on_key(key(KeyCode::Char('J'))),
            None,
            "not past a carried item"
        );
        assert!(a.status.as_ref().is_some_and(|(_, error)| *error));
    }

    #[test]
    fn a_refresh_keeps_the_selection_on_its_item() {
        let mut a = app(vec![item("aa", false, false), item("bb", false, false)]);
        a.on_key(key(KeyCode::Down));
        let mut fresh = a.source.clone();
        fresh.meeting.agenda.insert(0, item("new", false, false));
        a.refresh(fresh);
        assert_eq!(a.selected_item().map(|i| i.id.as_str()), Some("bb"));
        let mut fewer = a.source.clone();
        fewer.meeting.agenda.truncate(1);
        a.refresh(fewer);
        assert_eq!(a.selected, 0);
    }
}
