//! A relay request as a stream carries it, checked against each standing a mailbox can
//! have, with and without a record: the rules never panic, and a retired or closed
//! mailbox is never written.
#![no_main]

use duet_protocol::mailbox::{check_mailbox_id, check_request, MailboxRecord, Standing};
use duet_protocol::wire::{decode, RelayRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = decode::<RelayRequest>(data) else {
        return;
    };
    if let RelayRequest::Open { mailbox, .. } = &request {
        let _ = check_mailbox_id(mailbox);
    }
    let record = MailboxRecord::new([1; 32]);
    for standing in [Standing::Live, Standing::Closed, Standing::Retired] {
        for held in [None, Some(&record)] {
            let allowed = check_request(held, standing, &request).is_ok();
            let writes = matches!(
                request,
                RelayRequest::Push { .. } | RelayRequest::Compact { .. } | RelayRequest::Take
            );
            assert!(!(allowed && writes && standing != Standing::Live));
        }
    }
});
