// The phone from Kotlin, as an Android app would use it: the generated bindings over the
// real libduet_mobile.so, suspend functions called from coroutines, the listener as a
// Kotlin object, errors caught as the generated exception classes. The other side is a real
// `duet` laptop (the CLI, in its own home) and a real `duet-relay` process on loopback.
package org.duet.phone

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import uniffi.duet_mobile.ChangeListener
import uniffi.duet_mobile.DuetApp
import uniffi.duet_mobile.MobileException
import uniffi.duet_mobile.NoteSection
import uniffi.duet_mobile.PersonRole
import uniffi.duet_mobile.SignalKind
import com.sun.net.httpserver.HttpServer
import java.io.File
import java.net.InetSocketAddress
import java.util.concurrent.LinkedBlockingQueue
import java.net.DatagramPacket
import java.net.DatagramSocket
import java.net.InetAddress
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import java.time.LocalDate
import java.util.concurrent.TimeUnit
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue

/** Where the build put `duet` and `duet-relay`. */
private val binDir = File(System.getProperty("duet.bin.dir") ?: "../../target/debug")

private fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile()

/** A real relay process on a free loopback port: open (no team token), or run with `config`. */
class RelayProcess(config: String? = null) : AutoCloseable {
    private val process: Process
    val addr: String
    val fingerprint: String

    init {
        val settings = config?.let { text ->
            File(tempDir("relay-config"), "relay.toml").also { it.writeText(text) }
        }
        val access = if (settings == null) listOf("--open") else listOf("--config", settings.path)
        process = ProcessBuilder(
            listOf(File(binDir, "duet-relay").path, "serve") + access +
                listOf("--listen", "127.0.0.1:0", "--data", tempDir("relay").path),
        ).redirectError(ProcessBuilder.Redirect.DISCARD).start()
        // "duet-relay listening on ADDR (UDP), fingerprint FP"
        val words = process.inputStream.bufferedReader().readLine().orEmpty().split(" ")
        require(words.size > 4) { "the relay did not start: $words" }
        addr = words[3]
        fingerprint = words.last()
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** The laptop: the `duet` command line in a home of its own. */
class Laptop(name: String) {
    private val home = tempDir("laptop")

    init {
        run("init", "--name", name)
    }

    /** Runs `duet ARGS` with `input` on standard input; its standard output. */
    fun run(vararg args: String, input: String = ""): String {
        val process = ProcessBuilder(listOf(File(binDir, "duet").path, "--home", home.path) + args)
            .start()
        process.outputStream.use { it.write(input.toByteArray()) }
        val out = process.inputStream.bufferedReader().readText()
        val err = process.errorStream.bufferedReader().readText()
        check(process.waitFor() == 0) { "duet ${args.toList()} failed: $err" }
        return out
    }
}

/** The listener, as an app's view-model would hold it. */
class Heard : ChangeListener {
    val events = CopyOnWriteArrayList<Pair<String, String>>()

    override fun notebookChanged(notebookId: String, summary: String) {
        events.add(notebookId to summary)
    }
}

class PhoneTest {
    private val apps = mutableListOf<DuetApp>()

    private fun phone(name: String): DuetApp = DuetApp.open(tempDir("phone").path, name).also { apps.add(it) }

    @AfterEach
    fun closeApps() = apps.forEach { it.close() }

    /** Ana's phone with "Ana / Bo" on `relay`, and Bo's laptop joined to it by ticket. */
    private fun phoneAndLaptop(relay: RelayProcess): Pair<DuetApp, Laptop> {
        val phone = phone("Ana")
        phone.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
        phone.setRelay(relay.addr, relay.fingerprint)
        val ticket = phone.invite()
        runBlocking { phone.syncNow() }
        val laptop = Laptop("Bo")
        laptop.run("join", "-", "--as", "report", input = ticket)
        return phone to laptop
    }

    private fun agenda(app: DuetApp): List<String> = app.overview().meeting?.agenda.orEmpty().map { it.text }

    @Test
    fun `a phone and a laptop converge through a real relay and the listener hears both`() = RelayProcess().use { relay ->
        val phone = phone("Ana")
        val heard = Heard()
        phone.setListener(heard)
        val notebook = phone.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
        assertEquals(listOf("Ana", "Bo"), notebook.people.map { it.name })
        phone.addAgendaItem("phone-agenda-item", false)
        phone.addNote(NoteSection.CHECKIN, "phone-checkin-note")
        assertTrue(heard.events.size >= 3, "${heard.events}")

        phone.setRelay(relay.addr, relay.fingerprint)
        val ticket = phone.invite()
        assertTrue(ticket.startsWith("duet2"))
        val pushed = runBlocking { phone.syncRelay() }
        assertEquals(notebook.id, pushed.notebook)

        val laptop = Laptop("Bo")
        laptop.run("join", "-", "--as", "report", input = ticket)
        assertTrue(laptop.run("agenda", "list").contains("phone-agenda-item"))
        laptop.run("agenda", "add", "laptop-agenda-item")
        laptop.run("sync")

        val before = heard.events.size
        val pulled = runBlocking { phone.syncRelay() }
        assertTrue(pulled.agendaItems >= 1u, "$pulled")
        assertEquals(listOf("laptop-agenda-item", "phone-agenda-item"), agenda(phone).sorted())
        assertTrue(heard.events.drop(before).any { it.first == notebook.id }, "${heard.events}")
    }

    @Test
    fun `undo takes back the phone's own line and keeps the laptop's, and a recurring point shows marked`() =
        RelayProcess().use { relay ->
            val (phone, laptop) = phoneAndLaptop(relay)
            phone.addNote(NoteSection.WINS, "phone-wrong-line")
            runBlocking { phone.syncRelay() }
            laptop.run("sync")
            laptop.run("note", "-s", "wins", "laptop-line")
            laptop.run("agenda", "recur", "Career goals", "--every", "1")
            laptop.run("sync")
            runBlocking { phone.syncRelay() }
            fun wins() = phone.overview().meeting?.sections.orEmpty().first { it.section == "wins" }.text

            val undone = phone.undo()
            assertEquals("note in Wins: “phone-wrong-line”", undone.what)
            assertEquals(listOf("Wins was edited since: your edit is undone, the rest is kept"), undone.left)
            assertEquals("laptop-line", wins())
            assertEquals(listOf("note in Wins: “phone-wrong-line”"), phone.undoList().redo.map { it.what })
            phone.redo()
            assertTrue(wins().contains("phone-wrong-line") && wins().contains("laptop-line"), wins())

            val point = phone.recurringPoints().single()
            assertEquals("Career goals", point.text)
            val item = phone.overview().meeting?.agenda.orEmpty().single { it.text == "Career goals" }
            assertEquals(point.id, item.recurringPoint)
        }

    @Test
    fun `errors arrive as the generated exception classes`() {
        val phone = phone("Ana")
        assertThrows<MobileException.NeedsSetup> { phone.overview() }
        phone.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
        val notFound = assertThrows<MobileException.NotFound> { phone.completeCommitment("zzzzzzzz") }
        assertTrue(!notFound.message.isNullOrBlank(), "an exception with no text for the person")
        assertThrows<MobileException.Invalid> { runBlocking { phone.join("not a ticket", PersonRole.REPORT) } }
        assertThrows<MobileException.Invalid> { phone.inviteFor("soon") }
    }

    @Test
    fun `edits return at once while a sync waits on a dead network`() = RelayProcess().use { relay ->
        DatagramSocket(0, InetAddress.getLoopbackAddress()).use { silent ->
            silent.soTimeout = 10_000
            val phone = phone("Ana")
            phone.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
            // A real relay's fingerprint, at an address that swallows every packet.
            phone.setRelay("127.0.0.1:${silent.localPort}", relay.fingerprint)
            runBlocking {
                val sync = async(Dispatchers.IO) { runCatching { phone.syncRelay() } }
                silent.receive(DatagramPacket(ByteArray(2048), 2048)) // the sync now waits
                var worst = 0L
                repeat(10) { i ->
                    val started = System.nanoTime()
                    phone.addAgendaItem("typed-while-the-network-is-dead-$i", false)
                    worst = maxOf(worst, System.nanoTime() - started)
                }
                assertTrue(sync.isActive, "the sync ended before the edits returned: nothing was proven")
                println("worst of 10 edits during a stuck sync: %.1f ms".format(worst / 1e6))
                val result = withTimeout(60_000) { sync.await() }
                assertTrue(result.exceptionOrNull() is MobileException.Network, "$result")
            }
            assertEquals(10, agenda(phone).count { it.startsWith("typed-while-the-network-is-dead") })
        }
    }

    @Test
    fun `live sync delivers the laptop's edit through the listener with no sync call`() = RelayProcess().use { relay ->
        val (phone, laptop) = phoneAndLaptop(relay)
        val heard = Heard()
        phone.setListener(heard)
        phone.startLiveSync()
        try {
            laptop.run("agenda", "add", "live-from-the-laptop")
            laptop.run("sync")
            runBlocking {
                withTimeout(30_000) {
                    while ("live-from-the-laptop" !in agenda(phone)) delay(100)
                }
            }
            assertTrue(heard.events.isNotEmpty(), "the listener heard nothing")
        } finally {
            phone.stopLiveSync()
        }
    }

    @Test
    fun `private notes reach a linked tablet until it is removed`() = RelayProcess().use { relay ->
        val phone = phone("Ana")
        phone.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
        phone.setRelay(relay.addr, relay.fingerprint)
        phone.addPrivateNote("Bo looked worn out")
        runBlocking { phone.syncPrivateNotes() }
        val tablet = phone("Ana")
        val link = phone.linkTicket()
        assertEquals("Ana", tablet.linkTicketInfo(link).owner)
        // The phone's next sync leaves the link's welcome on the relay.
        runBlocking { phone.syncPrivateNotes() }
        runBlocking { tablet.link(link) }
        runBlocking { tablet.syncPrivateNotes() }
        assertEquals(listOf("Bo looked worn out"), tablet.privateNotes().map { it.text })

        // The tablet is lost: listed as linked for private notes only, and removed.
        runBlocking { phone.syncPrivateNotes() }
        val linked = phone.devices().single { it.privateNotesOnly }
        val gone = phone.removeDevice(linked.id.take(8))
        assertTrue(gone.removed && gone.privateNotesOnly)
        phone.addPrivateNote("Written after the tablet was lost")
        runBlocking { phone.syncPrivateNotes() }
        val refused = assertThrows<MobileException.Invalid> { runBlocking { tablet.syncPrivateNotes() } }
        assertTrue(refused.message.orEmpty().contains("removed"), refused.message)
        assertEquals(listOf("Bo looked worn out"), tablet.privateNotes().map { it.text })
    }

    @Test
    fun `health signals are sealed classes an app renders with when`() {
        val today = LocalDate.now()
        val longAgo = today.minusDays(60).toString()
        val phone = phone("Ana")
        phone.createNotebook("Signals", PersonRole.MANAGER, "Bo")
        phone.newMeeting(longAgo)
        phone.addCommitment("Write up the incident", false, null)
        phone.addNote(NoteSection.CHALLENGES, "The outage")
        phone.wrapMeeting(null, null, null)
        repeat(3) { n ->
            phone.addNote(NoteSection.CHALLENGES, "Hiring, week $n")
            phone.wrapMeeting(null, null, null, 10u)
        }
        val rendered = phone.health(10u).signals.map { signal ->
            when (val kind = signal.kind) {
                is SignalKind.StaleCommitments ->
                    "${kind.name}: ${kind.count} open over ${kind.openOverDays} days, oldest ${kind.oldest.first().text}"
                is SignalKind.ShortMeetings ->
                    "${kind.meetings.map { it.minutes }} of ${kind.plannedMinutes} minutes"
                else -> "other: ${signal.text}"
            }
        }
        assertEquals(
            listOf("Bo: 1 open over 14 days, oldest Write up the incident", "[10, 10, 10] of 30 minutes"),
            rendered,
        )
    }

    /** One request the push service received. */
    private data class Wake(val at: Long, val method: String, val path: String, val body: ByteArray)

    @Test
    fun `a wake-up reaches the push endpoint within a second of the laptop's push with nothing in it and syncFor brings the item`() =
        RelayProcess("require_team_token = false\n[wake]\nhosts = [\"127.0.0.1\"]\n").use { relay ->
            // The push service a UnifiedPush distributor would run, on loopback.
            val wakes = LinkedBlockingQueue<Wake>()
            val service = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
            service.createContext("/") { exchange ->
                val body = exchange.requestBody.readBytes()
                wakes.add(Wake(System.nanoTime(), exchange.requestMethod, exchange.requestURI.toString(), body))
                exchange.sendResponseHeaders(201, -1)
                exchange.close()
            }
            service.start()
            try {
                val (phone, laptop) = phoneAndLaptop(relay)

                // The app hands over the endpoint its push distributor gave it.
                val endpoint = "http://127.0.0.1:${service.address.port}/up/ana-phone"
                val unreachable = runBlocking { phone.registerPush(endpoint) }
                assertEquals(0u, unreachable)
                val status = phone.pushStatus()
                assertEquals(endpoint, status.endpoint)
                assertTrue(status.relays.isNotEmpty() && status.relays.all { it.registered }, "$status")

                // The phone sleeps; the laptop pushes.
                laptop.run("agenda", "add", "woken-for-this-item")
                val pushed = System.nanoTime()
                laptop.run("sync")
                val wake = wakes.poll(5, TimeUnit.SECONDS) ?: error("no wake-up within 5 s")
                val millis = (wake.at - pushed) / 1_000_000
                println("wake-up %d ms after the laptop's sync began".format(millis))
                assertTrue(millis <= 1000, "wake-up after $millis ms")
                assertEquals("POST", wake.method)
                assertEquals("/up/ana-phone", wake.path)
                assertEquals(0, wake.body.size, "a wake-up carries nothing")

                // What the app runs on the wake-up: a sync bounded by the OS's few seconds.
                val got = runBlocking { phone.syncFor(10_000u) }
                assertTrue(got.finished, "${got.notSynced}")
                assertTrue("woken-for-this-item" in agenda(phone), "${agenda(phone)}")

                // Unregistered: the next push wakes nothing.
                runBlocking { phone.unregisterPush() }
                laptop.run("agenda", "add", "no-wake-for-this")
                laptop.run("sync")
                assertEquals(null, wakes.poll(1500, TimeUnit.MILLISECONDS))
            } finally {
                service.stop(0)
            }
        }
}
