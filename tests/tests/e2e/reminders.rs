//! A running node reminds before a 1-1: on a private D-Bus session with a notification
//! server (the freedesktop `org.freedesktop.Notifications` interface, served here), the
//! reminder arrives at its time with the person and the agenda, and a canceled meeting at
//! the same time reminds no one.

use duet_tests::{Device, Serving};
use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

/// A private session bus: `dbus-daemon`, killed when dropped.
struct Bus {
    child: std::process::Child,
    address: String,
}

impl Bus {
    fn start() -> Bus {
        let mut child = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("dbus-daemon runs (tests/run installs dbus)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the bus's address");
        Bus {
            child,
            address: line.trim().to_owned(),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `org.freedesktop.Notifications` on the bus; each notification's (summary, body)
/// comes out of the returned channel.
fn notification_server(address: &str) -> mpsc::Receiver<(String, String)> {
    use dbus::channel::{Channel, MatchingReceiver, Sender};
    use dbus::message::MatchRule;
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let address = address.to_owned();
    std::thread::spawn(move || {
        let mut channel = Channel::open_private(&address).expect("the bus");
        channel.register().expect("registered");
        let conn = dbus::blocking::Connection::from(channel);
        conn.request_name("org.freedesktop.Notifications", false, true, false)
            .expect("the name");
        conn.start_receive(
            MatchRule::new_method_call(),
            Box::new(move |msg, conn| {
                let reply = if msg.member().as_deref() == Some("Notify") {
                    let read: Result<(String, u32, String, String, String), _> = msg.read5();
                    if let Ok((_, _, _, summary, body)) = read {
                        let _ = tx.send((summary, body));
                    }
                    msg.method_return().append1(1u32)
                } else if msg.member().as_deref() == Some("GetCapabilities") {
                    msg.method_return().append1(vec!["body".to_owned()])
                } else {
                    msg.method_return()
                };
                let _ = conn.send(reply);
                true
            }),
        );
        let _ = ready_tx.send(());
        loop {
            if conn.process(Duration::from_millis(100)).is_err() {
                return;
            }
        }
    });
    ready
        .recv_timeout(Duration::from_secs(10))
        .expect("the notification server is up");
    rx
}

#[test]
fn a_node_reminds_at_the_time_with_the_person_and_agenda_and_not_for_a_canceled_meeting() {
    let bus = Bus::start();
    let notifications = notification_server(&bus.address);

    // Two 1-1s two minutes from now (in this machine's zone), reminded a minute before:
    // one with Bo, and one with Cy that is canceled.
    let now = jiff::Zoned::now();
    let start = now
        .checked_add(jiff::Span::new().minutes(2))
        .expect("a time")
        .with()
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .expect("a minute");
    let at = start.strftime("%H:%M").to_string();
    let day = start.date().to_string();
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&[
        "notebook", "new", "Ana / Cy", "--me", "manager", "--with", "Cy",
    ]);
    for title in ["Ana / Bo", "Ana / Cy"] {
        ana.ok(&["-n", title, "notebook", "cadence", "--at", &at]);
        if day != now.date().to_string() {
            ana.ok(&["-n", title, "meeting", "reschedule", "--to", &day]);
        }
        ana.ok(&["-n", title, "remind", "--before", "1m"]);
    }
    ana.ok(&["-n", "Ana / Bo", "agenda", "add", "Promotion timeline"]);
    ana.ok(&["-n", "Ana / Cy", "meeting", "cancel"]);

    let node = Serving::start_in_env(
        &ana,
        "127.0.0.1:0",
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)],
    );
    let (summary, body) = notifications
        .recv_timeout(Duration::from_secs(90))
        .expect("a reminder within the minute");
    let shown_at = jiff::Zoned::now();
    assert!(summary.starts_with("1-1 with Bo"), "{summary}");
    assert!(summary.contains(&at), "{summary}");
    assert!(body.contains("1 item on the agenda"), "{body}");
    // It came at its time: the minute before the meeting, not earlier.
    let remind_at = start
        .checked_sub(jiff::Span::new().minutes(1))
        .expect("a time");
    assert!(
        shown_at >= remind_at,
        "shown at {shown_at}, due {remind_at}"
    );
    // Nothing for the canceled 1-1 with Cy (nor a second one for Bo).
    assert!(
        notifications.recv_timeout(Duration::from_secs(3)).is_err(),
        "one reminder only"
    );
    assert!(node.stop(), "the node stops cleanly");
}
