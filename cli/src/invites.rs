//! `duet invite` and `duet join` with one-time tickets: making an invite (its welcome left
//! on the notebook's relay at once when there is one), listing and revoking this device's
//! invites, and joining from a `duet2` ticket (redeemed on the relay or at the inviting
//! device, then the first sync).

use crate::commands::{Output, RunContext};
use crate::json::notebook::list as rows_of;
use crate::json::sync::Invitation;
use crate::network::{addrs_to_give, first_sync, FirstSync};
use anyhow::Result;
use duet_core::one_time_invite::{parse_lifetime, OneTimeInvite};
use duet_core::{Duet, DuetError, InviteView, Role};
use duet_node::net::redeem::{redeem_ticket, GrantedBy};
use duet_node::net::relay_client;
use duet_node::HomeHandle;
use std::fmt::Write as _;
use std::time::Duration;

/// How long `duet invite` tries to leave the welcome on the relay before leaving it to the
/// next sync.
const WELCOME_PUSH_WAIT: Duration = Duration::from_secs(10);

/// What `duet invite` is asked.
pub struct InviteAsk {
    /// Addresses to name (`--addr`).
    pub addrs: Vec<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--expires`, as typed.
    pub expires: Option<String>,
}

/// `duet invite`: a one-time ticket for the selected notebook; its welcome goes to the
/// relay now when the notebook has one (else with the next sync).
pub async fn invite(
    home: &HomeHandle,
    selected: Option<String>,
    ask: InviteAsk,
    context: RunContext,
    out: &Output,
) -> Result<()> {
    let lifetime = match &ask.expires {
        Some(text) => Some(parse_lifetime(text).ok_or_else(|| {
            DuetError::Invalid(format!(
                "{text:?} is not a lifetime: a number and s, m, h, d or w, e.g. 2d"
            ))
        })?),
        None => None,
    };
    let (ticket, notebook) = home
        .call(move |d| {
            with_selected(d, selected.as_deref(), |d| {
                let addrs = addrs_to_give(d, &ask.addrs, ask.port, &context)?;
                let notebook = d.selected_notebook()?;
                let relay = d.relay().ticket_relay(&notebook)?;
                Ok((d.members().invite_once(addrs, relay, lifetime)?, notebook))
            })
        })
        .await?;
    let welcome = leave_welcome(home, &notebook, ticket.relay.as_ref()).await;
    let text = ticket.to_ticket();
    out.print(&ticket_json(&text, &ticket, welcome.as_ref()), || {
        let qr = ticket.to_qr().unwrap_or_default();
        let mut s = format!(
            "One-time invite {} to {:?}, valid until {} UTC. It works once, for one device: share it only with the other person.\n\n{qr}\n{text}\n\nOn their device: duet join - --as manager|report, then paste the ticket (read from standard input, it never sits in a process list or a shell history)\n",
            short(&ticket.id),
            ticket.title,
            when(ticket.expires * 1000),
        );
        s.push_str(&reachable_words(&ticket.addrs, welcome.as_ref()));
        s.push_str("List invites with `duet invite --list`; revoke one with `duet invite --revoke ID`.\n");
        s
    });
    Ok(())
}

/// Tends the welcomes of `notebook`'s invites on its relay (leaves new ones, takes down
/// those of revoked or expired invites), waiting at most [`WELCOME_PUSH_WAIT`]: `None`
/// without a relay, else the relay's address or why it could not be reached.
async fn leave_welcome(
    home: &HomeHandle,
    notebook: &str,
    relay: Option<&duet_core::invite::RelayInfo>,
) -> Option<Result<String, String>> {
    let relay = relay?;
    Some(
        match tokio::time::timeout(
            WELCOME_PUSH_WAIT,
            relay_client::push_welcomes(home, notebook),
        )
        .await
        {
            Ok(Ok(_)) => Ok(relay.addr.clone()),
            Ok(Err(e)) => Err(format!("{}: {e}", relay.addr)),
            Err(_) => Err(format!(
                "{}: no answer within {} s",
                relay.addr,
                WELCOME_PUSH_WAIT.as_secs()
            )),
        },
    )
}

/// How a ticket can be redeemed, in words: at this device while it serves, and through
/// the relay's welcome when there is one.
fn reachable_words(
    addrs: &[std::net::SocketAddr],
    welcome: Option<&Result<String, String>>,
) -> String {
    let at: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    let mut s = format!(
        "It reaches this device at {} while `duet serve` runs here",
        at.join(", ")
    );
    match welcome {
        None => s.push_str(".\n"),
        Some(Ok(relay)) => {
            let _ = writeln!(
                s,
                ", or its welcome on the relay at {relay} while this device is offline."
            );
        }
        Some(Err(why)) => {
            let _ = writeln!(
                s,
                ".\nThe relay could not take its welcome now ({why}); it goes there with this device's next `duet sync`."
            );
        }
    }
    s
}

/// `duet link` with no ticket: a one-time personal link for this person's other device.
pub async fn link(
    home: &HomeHandle,
    selected: Option<String>,
    ask: InviteAsk,
    context: RunContext,
    out: &Output,
) -> Result<()> {
    // Without a relay of its own, the personal space takes the selected notebook's.
    let link = home
        .call(move |d| {
            with_selected(d, selected.as_deref(), |d| {
                let addrs = addrs_to_give(d, &ask.addrs, ask.port, &context)?;
                Ok(d.members().link_once(addrs, None)?)
            })
        })
        .await?;
    let welcome = leave_welcome(home, &link.notebook, link.relay.as_ref()).await;
    let text = link.to_link_ticket();
    out.print(&ticket_json(&text, &link, welcome.as_ref()), || {
        let qr = link.to_link_qr().unwrap_or_default();
        format!(
            "One-time personal link for your own devices, valid until {} UTC. It works once and opens your private notes: never share it.\n\n{qr}\n{text}\n\nOn your other device: duet link -, then paste the ticket (read from standard input, it never sits in a process list or a shell history)\n{}",
            when(link.expires * 1000),
            reachable_words(&link.addrs, welcome.as_ref())
        )
    });
    Ok(())
}

/// `duet link duetlink2…`: checks whose device the ticket comes from, redeems it (the
/// relay's welcome first, then the other device), adopts the personal space, then syncs it
/// unless `no_sync`.
pub async fn link_redeem(home: &HomeHandle, text: &str, no_sync: bool, out: &Output) -> Result<()> {
    let link = OneTimeInvite::from_link_ticket(text).map_err(DuetError::Ticket)?;
    if let Some(owner) = link.owner.clone() {
        // Refused before the ticket is spent.
        home.call(move |d| d.joins().check_link_owner(&owner))
            .await?;
    }
    let (grant, _) = redeem_ticket(home, &link).await?;
    let space = {
        let link = link.clone();
        home.call(move |d| d.joins().link_granted(&link, &grant))
            .await?
    };
    crate::network::first_link_sync(
        home,
        space,
        link.relay.is_some(),
        &link.addrs,
        link.fingerprint,
        no_sync,
        out,
    )
    .await
}

/// What `--json` prints for a ticket just made.
fn ticket_json(
    text: &str,
    ticket: &OneTimeInvite,
    welcome: Option<&Result<String, String>>,
) -> crate::json::results::TicketMade {
    crate::json::results::TicketMade {
        ticket: text.to_owned(),
        id: ticket.id.clone(),
        expires: ticket.expires,
        welcome_on_relay: matches!(welcome, Some(Ok(_))),
    }
}

/// Runs `f` on `d` with `selected` (or the current notebook) selected.
fn with_selected<T>(
    d: &mut Duet,
    selected: Option<&str>,
    f: impl FnOnce(&mut Duet) -> Result<T, anyhow::Error>,
) -> Result<T, anyhow::Error> {
    d.deselect();
    if let Some(nb) = selected {
        d.select(nb)?;
    }
    let result = f(d);
    d.deselect();
    result
}

/// `duet invite --list`.
pub fn list(duet: &mut Duet, out: &Output) -> Result<()> {
    let invites = duet.members().invites()?;
    let rows: Vec<Invitation> = rows_of(&invites);
    out.print(&rows, || {
        if invites.is_empty() {
            return "No invites made on this device for this notebook.\n".into();
        }
        let mut s = String::new();
        for i in &invites {
            let _ = writeln!(
                s,
                "{}  {:<8}  made {}  expires {} UTC",
                short(&i.id),
                i.state,
                when(i.created),
                when(i.expires * 1000)
            );
        }
        s
    });
    Ok(())
}

/// `duet invite --revoke ID`: the invite is refused from now on, and its welcome is taken
/// off the relay at once (so the ticket cannot be redeemed there either); when the relay
/// cannot be reached, the next sync takes it down.
pub async fn revoke(
    home: &HomeHandle,
    selected: Option<String>,
    id: String,
    out: &Output,
) -> Result<()> {
    let (view, notebook, relay) = home
        .call(move |d| {
            with_selected(d, selected.as_deref(), |d| {
                let view: InviteView = d.members().revoke_invite(&id)?;
                let notebook = d.selected_notebook()?;
                let relay = d.relay().ticket_relay(&notebook)?;
                Ok((view, notebook, relay))
            })
        })
        .await?;
    let taken_down = if view.state == "revoked" {
        leave_welcome(home, &notebook, relay.as_ref()).await
    } else {
        None
    };
    out.print(&Invitation::from(&view), || match (view.state, &taken_down) {
        ("revoked", None) => format!(
            "Revoked invite {}: it is refused from now on.\n",
            short(&view.id)
        ),
        ("revoked", Some(Ok(relay))) => format!(
            "Revoked invite {}: it is refused from now on, and its welcome is off the relay at {relay}.\n",
            short(&view.id)
        ),
        ("revoked", Some(Err(why))) => format!(
            "Revoked invite {}: it is refused from now on. Its welcome could not be taken off the relay now ({why}); the next `duet sync` takes it down.\n",
            short(&view.id)
        ),
        (state, _) => format!(
            "Invite {} is already {state}: nothing to revoke.\n",
            short(&view.id)
        ),
    });
    Ok(())
}

/// `duet join duet2…`: redeems the one-time ticket (the relay's welcome first, then the
/// inviting device), records the notebook, then syncs it unless `no_sync`.
pub async fn join(
    home: &HomeHandle,
    text: &str,
    role: Role,
    no_sync: bool,
    out: &Output,
) -> Result<()> {
    let ticket = OneTimeInvite::from_ticket(text).map_err(DuetError::Ticket)?;
    {
        // Refused before the invite is spent on a notebook this device already has.
        let (notebook, title) = (ticket.notebook.clone(), ticket.title.clone());
        home.call(move |d| d.joins().check_can_join(&notebook, &title))
            .await?;
    }
    let (grant, by) = redeem_ticket(home, &ticket).await?;
    let id = {
        let ticket = ticket.clone();
        home.call(move |d| d.joins().granted(&ticket, &grant, role))
            .await?
    };
    let from = match &by {
        GrantedBy::Relay(addr) => format!("its welcome on the relay at {addr}"),
        GrantedBy::Device(addr) => format!("the inviting device at {addr}"),
    };
    if no_sync {
        out.print(
            &crate::json::results::Redeemed {
                notebook: id.to_string(),
                synced: false,
                redeemed: from.clone(),
            },
            || {
                format!(
                    "Added {:?} (invite redeemed with {from}); it arrives with the first `duet sync`.\n",
                    ticket.title
                )
            },
        );
        return Ok(());
    }
    first_sync(
        home,
        FirstSync {
            id,
            title: ticket.title.clone(),
            role,
            relay: ticket.relay.is_some(),
            addrs: ticket.addrs.clone(),
            fingerprint: ticket.fingerprint,
        },
        out,
    )
    .await
}

/// The first 8 characters of an id.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM`.
fn when(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
