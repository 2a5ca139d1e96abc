//! How `duet meet` looks: the meeting on one screen, with ratatui.
//!
//! ```text
//!  Ana / Bo · meeting on 2026-12-08 (scheduled) · synced through the node
//! ┌Agenda──────────────────────┐┌Notes─────────────────────────────────┐
//! │> [x] Promotion timeline     ││ Check-in                             │
//! │  [ ] On-call load           ││   Busy week                          │
//! └─────────────────────────────┘│ Wins ...                             │
//! ┌Commitments─────────────────┐│                                      │
//! │  [ ] Send the doc — Bo      ││                                      │
//! └─────────────────────────────┘└──────────────────────────────────────┘
//!  Wins> shipped the importer▏
//!  ↑↓ select  space tick  J/K move  a add item  1-8 write in a section  n notes  q quit
//! ```
//!
//! Colours only when the terminal takes them and `NO_COLOR` is not set.

use super::app::{App, Mode, Target};
use duet_core::model::CommitmentStatus;
use duet_core::Section;
use ratatui::layout::{Constraint, Direction, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

/// The keys, shown at the bottom while browsing.
pub const KEYS: &str =
    "↑↓ select  space tick  J/K move  a add item  1-8 write in a section  n notes  u undo  ^R redo  q quit";
/// The keys while typing.
pub const TYPING_KEYS: &str = "Enter save  Esc cancel";

/// Styles, or none at all without colour.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn style(&self, style: Style) -> Style {
        if self.color {
            style
        } else {
            Style::default()
        }
    }

    fn heading(&self) -> Style {
        self.style(Style::default().add_modifier(Modifier::BOLD))
    }

    fn dim(&self) -> Style {
        self.style(Style::default().fg(Color::DarkGray))
    }

    fn done(&self) -> Style {
        self.style(Style::default().fg(Color::Green))
    }

    fn error(&self) -> Style {
        self.style(Style::default().fg(Color::Red))
    }

    fn selected(&self) -> Style {
        self.style(Style::default().add_modifier(Modifier::REVERSED))
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: Theme) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(frame.area());
    let summary = &app.source.meeting.summary;
    let title = Line::from(vec![
        Span::styled(format!(" {}", app.source.title), theme.heading()),
        Span::raw(format!(
            " · meeting on {} ({}) · ",
            summary.date,
            summary.status.as_str()
        )),
        Span::styled(app.link.clone(), theme.dim()),
    ]);
    frame.render_widget(Paragraph::new(title), rows[0]);

    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(45), Constraint::Percentage(55)])
        .split(rows[1]);
    let left = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
        .split(columns[0]);
    agenda(frame, app, theme, left[0]);
    commitments(frame, app, theme, left[1]);
    sections(frame, app, theme, columns[1]);

    let line = match &app.mode {
        Mode::Typing { target, input } => Line::from(vec![
            Span::styled(format!(" {}> ", target_name(*target)), theme.heading()),
            Span::raw(format!("{input}▏")),
        ]),
        Mode::Browse => match &app.status {
            Some((text, true)) => Line::from(Span::styled(format!(" {text}"), theme.error())),
            Some((text, false)) => Line::from(Span::styled(format!(" {text}"), theme.dim())),
            None => Line::from(""),
        },
    };
    frame.render_widget(Paragraph::new(line), rows[2]);
    let keys = match app.mode {
        Mode::Typing { .. } => TYPING_KEYS,
        Mode::Browse => KEYS,
    };
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(format!(" {keys}"), theme.dim()))),
        rows[3],
    );
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Section(s) => s.title(),
        Target::NewItem => "New agenda item",
    }
}

fn agenda(frame: &mut Frame<'_>, app: &App, theme: Theme, area: ratatui::layout::Rect) {
    let mut items: Vec<ListItem<'_>> = app
        .agenda()
        .iter()
        .map(|item| {
            let tick = if item.discussed { "[x]" } else { "[ ]" };
            let mut spans = vec![Span::styled(
                format!("{tick} "),
                if item.discussed {
                    theme.done()
                } else {
                    Style::default()
                },
            )];
            spans.push(Span::raw(item.text.clone()));
            if item.recurring.is_some() {
                spans.push(Span::styled(" ↻", theme.dim()));
            }
            if item.carried > 0 {
                spans.push(Span::styled(
                    format!("  (carried {}×)", item.carried),
                    theme.dim(),
                ));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let empty = items.is_empty();
    for band in &app.bands {
        items.push(ListItem::new(Line::from(Span::styled(
            format!(
                "⋯ {} carried {} — duet agenda list --all",
                band.count,
                band.times()
            ),
            theme.dim(),
        ))));
    }
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title(" Agenda "))
        .highlight_style(theme.selected())
        .highlight_symbol("> ");
    let mut state = ListState::default();
    if !empty {
        state.select(Some(app.selected));
    }
    frame.render_stateful_widget(list, area, &mut state);
}

fn commitments(frame: &mut Frame<'_>, app: &App, theme: Theme, area: ratatui::layout::Rect) {
    let name = |id: &str| {
        app.source
            .people
            .iter()
            .find(|p| p.id == id)
            .map_or(id.to_owned(), |p| p.name.clone())
    };
    let items: Vec<ListItem<'_>> = app
        .source
        .meeting
        .commitments
        .iter()
        .filter(|c| c.status != CommitmentStatus::Dropped)
        .map(|c| {
            let done = c.status == CommitmentStatus::Done;
            let due = c
                .due
                .as_deref()
                .map(|d| format!(", due {d}"))
                .unwrap_or_default();
            ListItem::new(Line::from(vec![
                Span::styled(
                    if done { "[x] " } else { "[ ] " },
                    if done { theme.done() } else { Style::default() },
                ),
                Span::raw(c.text.clone()),
                Span::styled(format!(" — {}{due}", name(&c.owner)), theme.dim()),
            ]))
        })
        .collect();
    frame.render_widget(
        List::new(items).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Commitments "),
        ),
        area,
    );
}

fn sections(frame: &mut Frame<'_>, app: &App, theme: Theme, area: ratatui::layout::Rect) {
    let typing_into = match app.mode {
        Mode::Typing {
            target: Target::Section(s),
            ..
        } => Some(s),
        _ => None,
    };
    let mut lines = Vec::new();
    for (n, section) in app.source.meeting.sections.iter().enumerate() {
        let marker = if typing_into == Some(section.section) {
            "> "
        } else {
            ""
        };
        let close = matches!(
            section.section,
            Section::Takeaway | Section::NextSteps | Section::Needs
        );
        if section.text.is_empty() && close && typing_into != Some(section.section) {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{} ", n + 1), theme.dim()),
            Span::styled(section.section.title().to_owned(), theme.heading()),
        ]));
        for text in section.text.lines() {
            lines.push(Line::from(format!("  {text}")));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Notes ")),
        area,
    );
}
