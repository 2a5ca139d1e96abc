"""The phone, played from Python through the generated uniffi bindings.

Two homes (Ana's phone and Bo's laptop) edit offline, then sync through a real
`duet-relay` process on loopback, never at the same moment; both end with the same
notebook, and the listener heard every change. Run by `mobile/run-binding-tests.sh`.
"""

import asyncio
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.environ["DUET_BINDINGS"])
import duet_mobile as dm  # noqa: E402


class Heard(dm.ChangeListener):
    def __init__(self):
        self.events = []

    def notebook_changed(self, notebook_id, summary):
        self.events.append((notebook_id, summary))


@pytest.fixture
def relay():
    data = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [os.environ["DUET_RELAY"], "serve", "--open", "--listen", "127.0.0.1:0", "--data", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    # "duet-relay listening on ADDR (UDP), fingerprint FP"
    words = line.split()
    yield words[3], words[-1]
    proc.terminate()
    proc.wait(timeout=10)


def agenda_texts(app):
    return sorted(i.text for i in app.overview().meeting.agenda)


def test_phone_and_laptop_converge_through_the_relay(relay):
    addr, fingerprint = relay
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    heard = Heard()
    phone.set_listener(heard)

    # Offline, in the meeting room.
    nb = phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    assert nb.title == "Ana / Bo" and len(nb.people) == 2
    phone.add_agenda_item("phone-agenda-item", False)
    phone.add_note(dm.NoteSection.CHECKIN, "phone-checkin-note")
    c = phone.add_commitment("Send the leveling guide", True, "tomorrow")
    assert c.status == "open"
    assert len(heard.events) >= 4, heard.events

    # Errors arrive as typed exceptions with messages an app can show.
    with pytest.raises(dm.MobileError.NotFound):
        phone.complete_commitment("zzzzzzzz")
    with pytest.raises(dm.MobileError.Invalid):
        asyncio.run(phone.join("not a ticket", dm.PersonRole.REPORT))

    phone.set_relay(addr, fingerprint)
    ticket = phone.invite()
    assert ticket.startswith("duet2")
    # A ticket carries no notebook secret: nothing of it opens the notebook by itself.
    assert [i.state for i in phone.invites()] == ["open"]
    pushed = asyncio.run(phone.sync_relay())
    assert pushed.sent_changes > 0

    laptop = dm.DuetApp.open(tempfile.mkdtemp(), "Bo")
    laptop_heard = Heard()
    laptop.set_listener(laptop_heard)
    asyncio.run(laptop.join(ticket, dm.PersonRole.REPORT))
    # Used once: a second device gets nothing from the same ticket.
    with pytest.raises(dm.MobileError.Network) as used:
        asyncio.run(dm.DuetApp.open(tempfile.mkdtemp(), "Eve").join(ticket, dm.PersonRole.REPORT))
    assert "already used" in str(used.value), used.value
    # A revoked invite's welcome leaves the relay with the next sync; a bad lifetime is
    # refused before anything is made.
    revoked = phone.invite_for("2d")
    asyncio.run(phone.sync_relay())
    assert phone.revoke_invite(phone.invites()[0].id).state == "revoked"
    asyncio.run(phone.sync_relay())
    with pytest.raises(dm.MobileError.Network) as refused:
        asyncio.run(dm.DuetApp.open(tempfile.mkdtemp(), "Eve").join(revoked, dm.PersonRole.REPORT))
    assert "revoked" in str(refused.value), refused.value
    with pytest.raises(dm.MobileError.Invalid):
        phone.invite_for("soon")
    assert sorted(i.state for i in phone.invites()) == ["revoked", "used"]
    with pytest.raises(dm.MobileError.NeedsSetup) as not_yet:
        laptop.overview()
    # Worded for a phone: what to do in the app, never a command to type.
    assert "has not arrived yet" in str(not_yet.value) and "duet " not in str(not_yet.value)
    with pytest.raises(dm.MobileError.Invalid) as wrong_kind:
        asyncio.run(laptop.link(ticket))
    assert "Join a notebook" in str(wrong_kind.value), wrong_kind.value
    got = asyncio.run(laptop.sync_relay())
    assert got.agenda_items == 1 and got.commitments == 1, got
    assert laptop_heard.events, "the laptop's listener did not fire"
    assert agenda_texts(laptop) == ["phone-agenda-item"]

    # Both edit offline, then sync at different moments.
    laptop.add_agenda_item("laptop-agenda-item", False)
    laptop.add_note(dm.NoteSection.CHECKIN, "laptop-checkin-note")
    phone.add_note(dm.NoteSection.WINS, "phone-wins-note")
    asyncio.run(laptop.sync_relay())
    before = len(heard.events)
    back = asyncio.run(phone.sync_relay())
    assert back.agenda_items == 1, back
    assert len(heard.events) > before, "the phone's listener did not hear the sync"
    asyncio.run(laptop.sync_relay())

    a, b = phone.overview(), laptop.overview()
    assert agenda_texts(phone) == agenda_texts(laptop) == ["laptop-agenda-item", "phone-agenda-item"]
    assert a.meeting.sections == b.meeting.sections
    checkin = next(s.text for s in a.meeting.sections if s.section == "checkin")
    assert "phone-checkin-note" in checkin and "laptop-checkin-note" in checkin
    assert [c.text for c in a.open_commitments] == [c.text for c in b.open_commitments]

    # Each lists both devices by person and name, once both have synced after naming.
    assert phone.set_device_name("Ana's phone") == "Ana's phone"
    with pytest.raises(dm.MobileError.Invalid):
        phone.set_device_name("x" * 61)
    asyncio.run(phone.sync_relay())
    asyncio.run(laptop.sync_relay())
    on_laptop = laptop.devices()
    assert [(d.person, d.role, d.this_device) for d in on_laptop] == [
        ("Ana", dm.PersonRole.MANAGER, False),
        ("Bo", dm.PersonRole.REPORT, True),
    ], on_laptop
    assert on_laptop[0].name == "Ana's phone" and on_laptop[0].last_seen_ms is not None
    assert on_laptop[0].fingerprint and on_laptop[1].added

    # Nobody removes the other person's devices: the phone may not remove Bo's laptop.
    with pytest.raises(dm.MobileError.Invalid) as not_hers:
        phone.remove_device(on_laptop[1].id[:8])
    assert "only Bo's own devices" in str(not_hers.value), not_hers.value

    # Ana's tablet joins, and is lost: the phone removes it. The notebook moves to new
    # keys; the tablet's next sync is refused, and what the phone writes after never
    # reaches it, while Bo's laptop reads it.
    tablet_ticket = phone.invite()
    asyncio.run(phone.sync_relay())
    tablet = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    asyncio.run(tablet.join(tablet_ticket, dm.PersonRole.MANAGER))
    asyncio.run(tablet.sync_relay())
    tablet.set_device_name("Ana's tablet")
    asyncio.run(tablet.sync_relay())
    asyncio.run(phone.sync_relay())
    tablet_id = next(d.id for d in phone.devices() if d.name == "Ana's tablet")
    gone = phone.remove_device(tablet_id[:8])
    assert gone.removed and gone.person == "Ana" and gone.name == "Ana's tablet"
    assert [d.removed for d in phone.devices() if d.id == tablet_id] == [True]
    phone.add_note(dm.NoteSection.NOTES, "after-removal-canary")
    asyncio.run(phone.sync_relay())
    with pytest.raises(dm.MobileError.Invalid) as refused:
        asyncio.run(tablet.sync_relay())
    assert "removed" in str(refused.value), refused.value
    notes = next(s.text for s in tablet.overview().meeting.sections if s.section == "notes")
    assert "after-removal-canary" not in notes
    asyncio.run(laptop.sync_relay())
    notes = next(s.text for s in laptop.overview().meeting.sections if s.section == "notes")
    assert "after-removal-canary" in notes


def test_a_cancelled_sync_leaves_the_notebook_whole_and_the_next_one_completes(relay):
    addr, fingerprint = relay
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Cancel", dm.PersonRole.MANAGER, "Bo")
    phone.set_relay(addr, fingerprint)
    for i in range(20):
        phone.add_agenda_item(f"item-{i}", False)

    async def suspended_then_resumed():
        # The app is suspended mid-sync: its coroutine is cancelled.
        task = asyncio.ensure_future(phone.sync_relay())
        await asyncio.sleep(0.001)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # Resumed: the next call completes.
        return await phone.sync_relay()

    asyncio.run(suspended_then_resumed())
    assert len(phone.overview().meeting.agenda) == 20
    other = dm.DuetApp.open(tempfile.mkdtemp(), "Bo")
    fresh = phone.invite()
    asyncio.run(phone.sync_relay())
    asyncio.run(other.join(fresh, dm.PersonRole.REPORT))
    asyncio.run(other.sync_relay())
    assert agenda_texts(other) == agenda_texts(phone)


def test_every_edit_the_cli_has_works_from_the_phone():
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Edits", dm.PersonRole.REPORT, "Ann")
    item = phone.add_agenda_item("Promotion timelin", False)
    phone.edit_agenda_item(item.id, "Promotion timeline")
    later = phone.add_agenda_item("Conference budget", False)
    assert phone.move_agenda_item(later.id, dm.MoveTo.BACKLOG()) == "backlog"
    assert [i.text for i in phone.overview().backlog] == ["Conference budget"]
    phone.agenda_done(item.id)
    assert not phone.agenda_undone(item.id).discussed
    phone.agenda_done(item.id)
    third = phone.add_agenda_item("Hiring plan", False)
    phone.order_agenda_item(third.id, item.id, False)
    assert [i.text for i in phone.overview().meeting.agenda] == ["Hiring plan", "Promotion timeline"]
    c = phone.add_commitment("Draft the plan", False, None)
    phone.edit_commitment(c.id, "Draft the plan with Sam", "+7d")
    dropped = phone.add_commitment("Book the room", True, None)
    assert phone.drop_commitment(dropped.id).status == "dropped"
    phone.add_note(dm.NoteSection.LOOK_AHEAD, "Q1 planning")
    next_id = phone.wrap_meeting("On track", "Ann drafts the plan", "Intro to design")
    history = phone.history()
    assert len(history) == 2 and history[1].id == next_id
    held = history[0]
    assert held.status == "held"
    takeaway = next(s.text for s in held.sections if s.section == "takeaway")
    assert takeaway == "On track"
    open_now = phone.commitments(True)
    assert [x.text for x in open_now] == ["Draft the plan with Sam"]
    phone.reschedule_meeting(None, "+14d")
    extra = phone.new_meeting("+30d")
    phone.cancel_meeting(extra)
    assert phone.rename_notebook("Edits 2027").title == "Edits 2027"
    assert [n.title for n in phone.notebooks()] == ["Edits 2027"]

    # The 1-1 ends: read-only, still readable.
    ended = phone.end_notebook()
    assert ended.ended is not None and phone.notebooks()[0].ended == ended.ended
    with pytest.raises(dm.MobileError.Invalid) as read_only:
        phone.add_note(dm.NoteSection.NOTES, "after the end")
    assert "ended" in str(read_only.value), read_only.value
    assert phone.commitments(True)[0].text == "Draft the plan with Sam"


def test_practice_features_and_private_notes_between_ones_own_phones(relay):
    addr, fingerprint = relay
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Practice", dm.PersonRole.MANAGER, "Bo")
    phone.set_relay(addr, fingerprint)
    phone.add_agenda_item("On-call is heavy #workload", False)
    phone.add_note(dm.NoteSection.CHALLENGES, "Rota again #workload")
    phone.add_commitment("Rebalance the rota #workload", True, "+3d")
    own = phone.add_question("What drained you this week?")
    assert own.own and own.times_asked == 0
    assert phone.suggest_question().id == own.id
    asked = phone.ask_question(None, True)
    assert asked.id == own.id and asked.times_asked == 1
    phone.wrap_meeting("Rota first", "Draft a rota", "A contractor")

    health = phone.health(10)
    assert health.window == 1 and health.next_meeting is not None
    assert [f.name for f in health.follow_through] == ["Ana", "Bo"]
    themes = phone.themes()
    assert themes.themes[0].tag == "workload" and themes.themes[0].mentions == 3
    hits = phone.search("rota")
    assert [(h.kind, h.section) for h in hits] == [
        ("note", "challenges"),
        ("note", "takeaway"),
        ("note", "next_steps"),
        ("commitment", None),
    ]
    summary = phone.meeting_summary("last")
    assert "## Key takeaway" in summary and "Rota first" in summary

    note = phone.add_private_note("Bo looked worn out")
    assert [n.text for n in phone.private_notes()] == [note.text]
    prep = phone.prep()
    assert prep.last_takeaway == "Rota first"
    assert [n.text for n in prep.private_notes] == ["Bo looked worn out"]
    assert prep.question is not None and prep.question.id != own.id
    assert asyncio.run(phone.sync_private_notes()) is not None

    # Ana's tablet: linked for private notes through the relay.
    tablet = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    with pytest.raises(dm.MobileError.Invalid):
        asyncio.run(tablet.link(phone.invite()))
    link = phone.link_ticket()
    assert link.startswith("duetlink2")
    info = tablet.link_ticket_info(link)
    assert info.owner == "Ana" and info.device and info.fingerprint, info
    # The phone's next sync leaves the link's welcome on the relay; it is taken once.
    asyncio.run(phone.sync_private_notes())
    asyncio.run(tablet.link(link))
    with pytest.raises(dm.MobileError.Network):
        asyncio.run(dm.DuetApp.open(tempfile.mkdtemp(), "Ana").link(link))
    got = asyncio.run(tablet.sync_private_notes())
    assert got.summary == "1 private note", got.summary

    # Bo syncs the notebook and sees the question, never the private note.
    asyncio.run(phone.sync_relay())
    bo = dm.DuetApp.open(tempfile.mkdtemp(), "Bo")
    fresh = phone.invite()
    asyncio.run(phone.sync_relay())
    asyncio.run(bo.join(fresh, dm.PersonRole.REPORT))
    asyncio.run(bo.sync_relay())
    assert any(q.id == own.id and q.times_asked == 1 for q in bo.questions())
    assert bo.private_notes() == []
    assert bo.search("worn") == []

    # The tablet is lost: the phone lists it (linked for private notes only), removes it,
    # and the private note written after never reaches it.
    asyncio.run(phone.sync_private_notes())
    listed = [d for d in phone.devices() if d.private_notes_only]
    assert len(listed) == 1 and not listed[0].this_device, phone.devices()
    gone = phone.remove_device(listed[0].id[:8])
    assert gone.removed and gone.private_notes_only
    assert all(d.id != gone.id for d in phone.devices())
    phone.add_private_note("Written after the tablet was lost")
    asyncio.run(phone.sync_private_notes())
    # The tablet learns from the old mailbox's notice that it was removed, and nothing more.
    with pytest.raises(dm.MobileError.Invalid, match="removed"):
        asyncio.run(tablet.sync_private_notes())
    assert [n.text for n in tablet.private_notes()] == ["Bo looked worn out"]


def test_health_signals_are_records_the_app_can_render():
    import datetime

    today = datetime.date.today()
    long_ago = (today - datetime.timedelta(days=60)).isoformat()
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Signals", dm.PersonRole.MANAGER, "Bo")
    # A meeting two months back, where Bo took on something with no due date.
    phone.new_meeting(long_ago)
    phone.add_commitment("Write up the incident", False, None)
    phone.add_note(dm.NoteSection.CHALLENGES, "The outage")
    phone.wrap_meeting(None, None, None)
    # Three meetings of 10 minutes out of 30; the last two wrapped before their date.
    for n in range(3):
        phone.add_note(dm.NoteSection.CHALLENGES, f"Hiring, week {n}")
        phone.wrap_meeting(None, None, None, 10)
    held = [m for m in phone.history() if m.status == "held"]
    assert [m.minutes for m in held] == [None, 10, 10, 10]
    assert {m.date for m in held[1:]} == {today.isoformat()}
    assert sum(m.planned is not None for m in held) == 2

    health = phone.health(10)
    assert health.last_held == today.isoformat() and health.days_since_held == 0
    assert [f.stale for f in health.follow_through] == [0, 1]
    kinds = [type(s.kind) for s in health.signals]
    assert kinds == [dm.SignalKind.STALE_COMMITMENTS, dm.SignalKind.SHORT_MEETINGS], kinds
    by_kind = {type(s.kind): s for s in health.signals}
    stale = by_kind[dm.SignalKind.STALE_COMMITMENTS].kind
    assert (stale.name, stale.count, stale.open_over_days) == ("Bo", 1, 14)
    assert [(c.text, c.since) for c in stale.oldest] == [("Write up the incident", long_ago)]
    short = by_kind[dm.SignalKind.SHORT_MEETINGS].kind
    assert short.planned_minutes == 30 and [m.minutes for m in short.meetings] == [10, 10, 10]
    for s in health.signals:
        assert s.text and "duet " not in s.text and "`" not in s.text, s.text

    # A window by date: only the meetings since today.
    since = phone.health_since(today.isoformat())
    assert since.window == 3
    with pytest.raises(dm.MobileError.Invalid):
        phone.health_since("last tuesday")


def test_an_edit_during_a_sync_stuck_on_a_dead_network_is_answered_at_once(relay):
    """A relay address that swallows every packet: the sync waits out its timeout, and the
    person's edits made meanwhile return while it still waits."""
    import socket
    import threading
    import time

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.settimeout(10)
    dead = "127.0.0.1:%d" % silent.getsockname()[1]

    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    _, fingerprint = relay  # a real relay's fingerprint, at an address that never answers
    phone.set_relay(dead, fingerprint)

    result = {}

    def sync():
        try:
            asyncio.run(phone.sync_relay())
            result["sync"] = "completed"
        except dm.MobileError.Network as e:
            result["sync"] = "failed: %s" % e

    syncing = threading.Thread(target=sync)
    syncing.start()
    silent.recvfrom(2048)  # the sync is now waiting on the network

    started = time.monotonic()
    phone.add_note(dm.NoteSection.NOTES, "typed-while-the-network-is-dead")
    phone.add_agenda_item("added-while-the-network-is-dead", False)
    edits_took = time.monotonic() - started
    still_syncing = syncing.is_alive()
    syncing.join(timeout=60)

    assert still_syncing, "the sync ended before the edits returned: nothing was proven"
    assert result["sync"].startswith("failed"), result
    assert "added-while-the-network-is-dead" in agenda_texts(phone)
    print("two edits during a stuck sync took %.1f ms" % (edits_took * 1000))


def wins(app):
    return "".join(s.text for s in app.overview().meeting.sections if s.section == "wins")


def test_live_sync_carries_edits_both_ways_with_no_sync_call(relay):
    addr, fingerprint = relay
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    phone.set_relay(addr, fingerprint)
    ticket = phone.invite()
    asyncio.run(phone.sync_now())
    laptop = dm.DuetApp.open(tempfile.mkdtemp(), "Bo")
    asyncio.run(laptop.join(ticket, dm.PersonRole.REPORT))
    asyncio.run(laptop.sync_now())

    phone.start_live_sync()
    laptop.start_live_sync()
    phone.add_agenda_item("live-from-the-phone", False)
    laptop.add_note(dm.NoteSection.WINS, "live-from-the-laptop")

    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "live-from-the-phone" in agenda_texts(laptop) and "live-from-the-laptop" in wins(
            phone
        ):
            break
        time.sleep(0.1)
    assert "live-from-the-phone" in agenda_texts(laptop)
    assert "live-from-the-laptop" in wins(phone)

    status = phone.sync_status()
    assert status.live
    assert [l for l in status.links if l.kind == "relay" and l.last_ok_ms is not None]
    phone.stop_live_sync()
    laptop.stop_live_sync()
    assert not phone.sync_status().live


def test_a_home_sealed_with_the_apps_key_opens_only_with_it():
    home = tempfile.mkdtemp()
    key = os.urandom(32)
    phone = dm.DuetApp.open_with_home_key(home, "Ana", key)
    phone.create_notebook("Sealed", dm.PersonRole.REPORT, "Ann")
    phone.add_agenda_item("kept under the app's key", True)
    del phone
    import gc

    gc.collect()
    # The key stays with the app: no key file in the home.
    assert not os.path.exists(os.path.join(home, "home.key"))
    with pytest.raises(dm.MobileError.Storage) as wrong:
        dm.DuetApp.open_with_home_key(home, "Ana", os.urandom(32))
    assert "key" in str(wrong.value)
    with pytest.raises(dm.MobileError.Storage):
        dm.DuetApp.open(home, "Ana")
    again = dm.DuetApp.open_with_home_key(home, "Ana", key)
    assert [i.text for i in again.overview().backlog] == ["kept under the app's key"]


def test_a_relay_that_does_not_take_the_push_endpoint_says_why_and_sync_for_keeps_its_deadline(relay):
    addr, fingerprint = relay
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    phone.set_relay(addr, fingerprint)
    asyncio.run(phone.sync_now())

    # A malformed endpoint is refused before anything is sent.
    with pytest.raises(dm.MobileError.Invalid):
        asyncio.run(phone.register_push("ftp://push.example/x"))

    # This relay takes no endpoint on its own network (no `[wake] hosts` set): it says so,
    # and the phone keeps the endpoint for relays that do.
    assert asyncio.run(phone.register_push("http://127.0.0.1:9/up/phone")) == 0
    status = phone.push_status()
    assert status.endpoint == "http://127.0.0.1:9/up/phone"
    assert len(status.relays) >= 1
    assert all(not r.registered for r in status.relays)
    assert all("127.0.0.1" in (r.refused or "") for r in status.relays), status

    # A bounded sync with time to spare finishes; one with none ends at once, unfinished.
    phone.add_agenda_item("bounded", False)
    assert asyncio.run(phone.sync_for(10_000)).finished
    got = asyncio.run(phone.sync_for(0))
    assert not got.finished and got.not_synced, got
    asyncio.run(phone.unregister_push())
    assert phone.push_status().endpoint is None


def test_the_week_across_notebooks_lists_each_1_1_and_what_is_owed():
    import datetime

    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    phone.add_agenda_item("Promotion timeline", False)
    overdue = (datetime.date.today() - datetime.timedelta(days=5)).isoformat()
    phone.add_commitment("Send the leveling guide", True, overdue)
    phone.create_notebook("Ana / Cy", dm.PersonRole.MANAGER, "Cy")

    today = datetime.date.today().isoformat()
    week = phone.week(today, today)
    assert sorted(m.notebook.person for m in week.meetings) == ["Bo", "Cy"]
    bo = next(m for m in week.meetings if m.notebook.person == "Bo")
    assert (bo.my_items, bo.their_items) == (1, 0)
    assert [(o.commitment.text, o.overdue_days) for o in week.i_owe] == [("Send the leveling guide", 5)]
    assert week.owed_to_me == []
    with pytest.raises(dm.MobileError.Invalid):
        phone.week("2026-12-10", "2026-12-01")


def test_upcoming_reminders_are_records_an_app_schedules_and_follow_the_setting():
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    phone.new_meeting("+10d")
    reminders = phone.upcoming_reminders()
    assert len(reminders) == 1, reminders
    r = reminders[0]
    assert r.notebook.person == "Bo" and r.nothing_from_me
    # A manager is reminded a day before.
    assert r.starts_ms - r.remind_at_ms == 24 * 3600 * 1000
    phone.set_reminder(False, 3 * 60)
    assert phone.upcoming_reminders()[0].starts_ms - phone.upcoming_reminders()[0].remind_at_ms == 3 * 3600 * 1000
    phone.set_reminder(False, None)
    assert phone.upcoming_reminders() == []


def test_an_untended_agenda_folds_its_long_carried_items_into_bands():
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    for n in range(8):
        phone.add_agenda_item(f"carried-item-{n}", False)
    for _ in range(3):
        phone.wrap_meeting(None, None, None, None)
    phone.add_agenda_item("fresh-item", False)
    meeting = phone.overview().meeting
    assert [i.text for i in meeting.agenda] == ["fresh-item"]
    assert [(b.carried_from, b.carried_to, b.count) for b in meeting.carried_bands] == [(3, 5, 8)]
    assert sorted(i.text for i in meeting.folded) == [f"carried-item-{n}" for n in range(8)]


def test_undo_and_redo_take_back_and_bring_back_the_phones_own_edits():
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    phone.add_note(dm.NoteSection.WINS, "Shipped the importer")
    item = phone.add_agenda_item("Career goals", False)
    phone.agenda_done(item.id)
    listed = phone.undo_list()
    assert [e.what for e in listed.undo] == [
        "agenda item ticked: “Career goals”",
        "agenda item: “Career goals”",
        "note in Wins: “Shipped the importer”",
    ]
    assert listed.redo == []

    undone = phone.undo()
    assert undone.what == "agenda item ticked: “Career goals”" and undone.left == []
    assert not phone.overview().meeting.agenda[0].discussed
    phone.undo()
    assert phone.overview().meeting.agenda == []
    assert [e.what for e in phone.undo_list().redo] == [
        "agenda item: “Career goals”",
        "agenda item ticked: “Career goals”",
    ]
    phone.redo()
    phone.redo()
    agenda = phone.overview().meeting.agenda
    assert [(i.text, i.discussed) for i in agenda] == [("Career goals", True)]
    with pytest.raises(dm.MobileError.Invalid) as nothing:
        phone.redo()
    assert "Nothing to redo" in str(nothing.value), nothing.value

    # A wrap is taken back whole: the meeting on the books again, the next one gone.
    meeting = phone.overview().meeting
    phone.wrap_meeting("Clear", None, None, None)
    assert len(phone.history()) == 2
    phone.undo()
    assert [m.id for m in phone.history()] == [meeting.id]
    assert phone.overview().meeting.status == "scheduled"


def test_a_recurring_point_comes_back_on_every_second_meeting_and_stops():
    phone = dm.DuetApp.open(tempfile.mkdtemp(), "Ana")
    phone.create_notebook("Ana / Bo", dm.PersonRole.MANAGER, "Bo")
    point = phone.add_recurring_point("Career goals", 2)
    assert (point.text, point.every, point.monthly, point.stopped) == ("Career goals", 2, False, False)
    on = []
    for meeting in range(1, 5):
        agenda = phone.overview().meeting.agenda
        recurring = [i for i in agenda if i.recurring_point == point.id]
        if recurring:
            on.append(meeting)
            phone.agenda_done(recurring[0].id)
        phone.wrap_meeting(None, None, None, None)
    assert on == [2, 4]
    stopped = phone.stop_recurring_point(point.id)
    assert stopped.stopped and [p.stopped for p in phone.recurring_points()] == [True]
    phone.wrap_meeting(None, None, None, None)
    assert all(i.recurring_point is None for i in phone.overview().meeting.agenda)
