//! `duet agenda …`: the shared agenda: add, list, tick off, order, reword, move and drop items.

use super::*;

pub(super) fn run(duet: &mut Duet, cmd: AgendaCmd, out: &Output) -> Result<()> {
    let p = out.palette;
    match cmd {
        AgendaCmd::Add {
            text,
            backlog,
            meeting,
        } => {
            let item = duet.agenda().add(&text, backlog, meeting.as_deref())?;
            let place = if backlog { "the backlog" } else { "the agenda" };
            out.print(&AgendaItem::from(&item), || {
                format!("Added {} to {place}.\n", item.id)
            });
        }
        AgendaCmd::List { meeting, all } => {
            let (m, backlog) = duet.agenda().list(meeting.as_deref())?;
            let nb = duet.notebook()?;
            let value = || crate::json::results::AgendaList {
                meeting: m.as_ref().map(|m| MeetingSummary::from(&m.summary)),
                agenda: m.as_ref().map(|m| list_of::<_, AgendaItem>(&m.agenda)),
                backlog: list_of::<_, AgendaItem>(&backlog),
            };
            out.print_lazy(value, || {
                let mut s = String::new();
                if let Some(m) = &m {
                    s.push_str(&format!("Agenda for {}:\n", m.summary.date));
                    s.push_str(&render::agenda_lines(&m.agenda, &nb, p, all));
                    if m.agenda.is_empty() {
                        s.push_str("  (empty)\n");
                    }
                }
                if !backlog.is_empty() {
                    s.push_str("Backlog:\n");
                    for item in &backlog {
                        s.push_str(&render::item_line(item, &nb, p));
                    }
                }
                s
            });
        }
        AgendaCmd::Done { id, meeting } => {
            let item = duet.agenda().done(id.as_str(), meeting.as_deref())?;
            out.print(&AgendaItem::from(&item), || {
                format!("Discussed: {}\n", item.text)
            });
        }
        AgendaCmd::Undone { id, meeting } => {
            let item = duet.agenda().undone(id.as_str(), meeting.as_deref())?;
            out.print(&AgendaItem::from(&item), || {
                format!("Not discussed yet: {}\n", item.text)
            });
        }
        AgendaCmd::Order {
            id,
            before,
            after,
            meeting,
        } => {
            let order = match (before, after) {
                (Some(b), _) => duet_core::Order::Before(b.as_str().to_owned()),
                (None, Some(a)) => duet_core::Order::After(a.as_str().to_owned()),
                (None, None) => {
                    return Err(anyhow!(DuetError::Invalid(
                        "say where: --before ID or --after ID".into()
                    )))
                }
            };
            let item = duet
                .agenda()
                .order(id.as_str(), &order, meeting.as_deref())?;
            out.print(&AgendaItem::from(&item), || {
                format!("Moved: {}\n", item.text)
            });
        }
        AgendaCmd::Drop { id, meeting } => {
            let item = duet.agenda().remove(id.as_str(), meeting.as_deref())?;
            out.print(&AgendaItem::from(&item), || {
                format!("Dropped: {}\n", item.text)
            });
        }
        AgendaCmd::Edit { id, text, meeting } => {
            let item = duet.agenda().edit(id.as_str(), &text, meeting.as_deref())?;
            out.print(&AgendaItem::from(&item), || format!("Now: {}\n", item.text));
        }
        AgendaCmd::Recur {
            text,
            every,
            monthly,
            list,
            stop,
        } => recur(duet, text, every, monthly, list, stop, out)?,
        AgendaCmd::Tidy {
            older_than,
            drop,
            yes,
        } => {
            let items = if yes {
                duet.agenda().tidy(older_than, drop)?
            } else {
                duet.agenda().tidy_plan(older_than)?
            };
            let to = if drop { "dropped" } else { "backlog" };
            out.print(
                &crate::json::results::Tidied {
                    to,
                    done: yes,
                    items: list_of::<_, AgendaItem>(&items),
                },
                || {
                    if items.is_empty() {
                        return format!("No item is carried {older_than} times or more.\n");
                    }
                    let verb = match (yes, drop) {
                        (true, true) => "Dropped",
                        (true, false) => "Moved to the backlog",
                        (false, true) => "Would drop",
                        (false, false) => "Would move to the backlog",
                    };
                    let mut s = format!(
                        "{verb} {} item(s) carried {older_than} times or more:\n",
                        items.len()
                    );
                    for i in items.iter().take(10) {
                        s.push_str(&format!(
                            "  {}  {} (carried {}x)\n",
                            i.id, i.text, i.carried
                        ));
                    }
                    if items.len() > 10 {
                        s.push_str(&format!("  … and {} more\n", items.len() - 10));
                    }
                    if !yes {
                        s.push_str("Run it again with --yes to do it.\n");
                    }
                    s
                },
            );
        }
        AgendaCmd::Move { id, to, meeting } => {
            let (item, place) = duet
                .agenda()
                .move_item(id.as_str(), &to, meeting.as_deref())?;
            out.print(
                &crate::json::results::ItemMoved {
                    item: AgendaItem::from(&item),
                    to: place.to_string(),
                },
                || format!("Moved {} to {place}.\n", item.id),
            );
        }
    }
    Ok(())
}

/// `duet agenda recur`.
fn recur(
    duet: &mut Duet,
    text: Option<String>,
    every: Option<u32>,
    monthly: bool,
    list: bool,
    stop: Option<duet_core::ids::IdPrefix>,
    out: &Output,
) -> Result<()> {
    use duet_core::model::recur::Rule;
    if list {
        let points = duet.agenda().recurring()?;
        out.print(
            &list_of::<_, crate::json::results::RecurringPoint>(&points),
            || crate::render::recurring_points(&points),
        );
        return Ok(());
    }
    if let Some(id) = stop {
        let point = duet.agenda().stop_recurring(id.as_str())?;
        out.print(&crate::json::results::RecurringPoint::from(&point), || {
            format!(
                "Stopped {}: “{}” comes back no more.\n",
                point.id, point.text
            )
        });
        return Ok(());
    }
    let rule = match (every, monthly) {
        (Some(n), false) => Rule::Every(n),
        (None, true) => Rule::Monthly,
        _ => {
            return Err(duet_core::DuetError::Invalid(
                "say when it comes back: --every N (every Nth meeting) or --monthly".into(),
            )
            .into())
        }
    };
    let point = duet
        .agenda()
        .add_recurring(text.as_deref().unwrap_or_default(), rule)?;
    out.print(&crate::json::results::RecurringPoint::from(&point), || {
        format!(
            "Added recurring point {}: “{}”, {}.\n",
            point.id, point.text, point.rule
        )
    });
    Ok(())
}
