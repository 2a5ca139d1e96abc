// An app-shaped sample: a terminal "phone" that lists the meeting, adds a note or an item,
// ticks an item off and shows how sync stands, written the way an Android view-model uses
// the core. One DuetApp for the process; every call on a background dispatcher (the core's
// calls block their thread for the milliseconds an edit takes, a sync for as long as the
// network does); the screen's state a StateFlow that the listener refreshes, so edits made
// here, by a sync or by live sync all show the same way.
//
// Run (after mobile/run-binding-tests.sh has built the library and generated the bindings):
//   cd mobile/kotlin && mvn -q compile exec:java -Dexec.mainClass=org.duet.sample.TerminalPhoneKt \
//     -Djna.library.path=../../target/debug -Dexec.args="/tmp/phone Ana"
package org.duet.sample

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import uniffi.duet_mobile.ChangeListener
import uniffi.duet_mobile.DuetApp
import uniffi.duet_mobile.MobileException
import uniffi.duet_mobile.NoteSection
import uniffi.duet_mobile.PersonRole

/** One agenda item as the screen shows it. */
data class ItemRow(val id: String, val text: String, val done: Boolean)

/** What the meeting screen renders. */
data class MeetingScreen(
    val title: String = "",
    val date: String? = null,
    val agenda: List<ItemRow> = emptyList(),
    val notes: List<String> = emptyList(),
    val sync: String = "not synced yet",
    /** The last error, worded for the person (the exception's message). */
    val error: String? = null,
)

/** The view-model: holds the app, runs its calls on `io`, and publishes [MeetingScreen]. */
class MeetingViewModel(
    private val app: DuetApp,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : ChangeListener {
    private val screen = MutableStateFlow(MeetingScreen())

    /** How the last sync went, until the next one (live links are shown beside it). */
    @Volatile private var lastSync = "not synced yet"

    /** The state to render; it changes after every edit and every sync that brought something. */
    val state: StateFlow<MeetingScreen> = screen

    init {
        app.setListener(this)
        refresh()
    }

    override fun notebookChanged(notebookId: String, summary: String) = refresh()

    fun addNote(text: String): Job = run { app.addNote(NoteSection.NOTES, text) }

    fun addItem(text: String): Job = run { app.addAgendaItem(text, false) }

    fun tick(id: String): Job = run { app.agendaDone(id) }

    /** Syncs with every relay and known device; the screen shows how it went. */
    fun sync(): Job = scope.launch(io) {
        lastSync = try {
            val arrived = app.syncNow().map { it.summary }.filter { it.isNotBlank() }
            if (arrived.isEmpty()) "synced, nothing new" else "synced: ${arrived.joinToString("; ")}"
        } catch (e: MobileException) {
            "last sync failed: ${e.message}"
        }
        refresh()
    }


    private fun run(edit: () -> Unit): Job = scope.launch(io) {
        try {
            edit()
        } catch (e: MobileException) {
            screen.value = screen.value.copy(error = e.message)
        }
    }

    private fun refresh() {
        screen.value = try {
            val overview = app.overview()
            val meeting = overview.meeting
            val live = app.syncStatus().links.filter { it.connected }.map { it.addr }
            MeetingScreen(
                title = overview.notebook.title,
                date = meeting?.date,
                agenda = meeting?.agenda.orEmpty().map { ItemRow(it.id, it.text, it.discussed) },
                notes = meeting?.sections.orEmpty()
                    .filter { it.section == "notes" && it.text.isNotBlank() }
                    .map { it.text },
                sync = if (live.isEmpty()) lastSync else "$lastSync; live with ${live.joinToString()}",
            )
        } catch (e: MobileException) {
            MeetingScreen(error = e.message)
        }
    }
}

/** The screen, as text. */
fun render(screen: MeetingScreen): String = buildString {
    appendLine("${screen.title} — ${screen.date ?: "no meeting on the books"}")
    screen.agenda.forEach { appendLine("  [${if (it.done) "x" else " "}] ${it.text}  (${it.id.take(8)})") }
    screen.notes.forEach { appendLine("  note: $it") }
    appendLine("  sync: ${screen.sync}")
    screen.error?.let { appendLine("  ! $it") }
}

/** `TerminalPhone DIR NAME`: commands on standard input (`note TEXT`, `add TEXT`, `tick ID`, `sync`, `show`, `quit`). */
fun main(args: Array<String>) = runBlocking {
    val dir = args.getOrElse(0) { "duet-phone" }
    val app = DuetApp.open(dir, args.getOrElse(1) { "Ana" })
    if (app.notebooks().isEmpty()) app.createNotebook("My 1-1", PersonRole.MANAGER, "Bo")
    val model = MeetingViewModel(app, this)
    print(render(model.state.value))
    while (true) {
        val line = readlnOrNull()?.trim() ?: break
        val (command, rest) = line.split(" ", limit = 2).let { it[0] to it.getOrElse(1) { "" } }
        val job = when (command) {
            "note" -> model.addNote(rest)
            "add" -> model.addItem(rest)
            "tick" -> model.tick(rest)
            "sync" -> model.sync()
            "show", "" -> null
            "quit" -> break
            else -> { println("commands: note TEXT, add TEXT, tick ID, sync, show, quit"); null }
        }
        job?.join()
        print(render(model.state.value))
    }
    app.close()
}
