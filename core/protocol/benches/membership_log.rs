//! The cost of signed membership: computing a space's membership from its log, and taking
//! one operation in (its signature checked), for logs of the sizes a notebook reaches.
//!
//! The logs are honest histories: a manager and a report, devices linked and removed in
//! turn, an epoch after each removal, as a 1-1 that changes phones every few months has.
//! Run: `cargo bench -p duet-protocol --bench membership_log`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use duet_protocol::crypto::DeviceKey;
use duet_protocol::membership::{Body, Log};

/// A log of about `ops` operations: devices of the manager linked, then removed with an
/// epoch after each removal.
fn history(ops: usize) -> (Log, DeviceKey) {
    let laptop = DeviceKey::generate();
    let mut log = Log::begin(&laptop, "nb", "manager", &["manager", "report"]);
    let mut number = 0;
    while log.ops().len() < ops {
        let phone = DeviceKey::generate().public_hex();
        log.append(&laptop, Body::add(&phone, &"manager".to_owned()))
            .expect("add");
        log.append(&laptop, Body::remove(&phone)).expect("remove");
        number += 1;
        let sealed_to = log.membership().devices.keys().cloned().collect();
        log.append(
            &laptop,
            Body::Epoch {
                number,
                sealed_to,
                seals: [0; 32],
            },
        )
        .expect("epoch");
    }
    (log, laptop)
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("membership");
    for size in [30, 120, 480] {
        let (log, laptop) = history(size);
        group.bench_function(format!("compute/{size}_ops"), |b| {
            b.iter(|| log.membership())
        });
        group.bench_function(format!("take_one_op/{size}_ops"), |b| {
            b.iter_batched(
                || {
                    let mut grown = log.clone();
                    let op = grown
                        .append(&laptop, Body::End)
                        .expect("an operation to take");
                    (log.clone(), op)
                },
                |(mut log, op)| log.insert(op).expect("takes"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(membership, benches);
criterion_main!(membership);
