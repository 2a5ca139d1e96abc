//! Any text as an invite ticket, a link ticket, and a one-time one of each: reading never
//! panics, and what reads writes back to a ticket that reads the same.
#![no_main]

use duet_core::invite::Invite;
use duet_core::one_time_invite::OneTimeInvite;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(invite) = Invite::from_ticket(text) {
        assert_eq!(Invite::from_ticket(&invite.to_ticket()).ok().map(|i| i.to_ticket()), Some(invite.to_ticket()));
    }
    let _ = Invite::from_link_ticket(text);
    if let Ok(once) = OneTimeInvite::from_ticket(text) {
        assert!(OneTimeInvite::from_ticket(&once.to_ticket()).is_ok());
    }
    let _ = OneTimeInvite::from_link_ticket(text);
    let _ = duet_core::one_time_invite::parse_lifetime(text);
});
