// The app-shaped sample's view-model, driven as a screen would drive it: edits and syncs
// on a background dispatcher, the state refreshed by the listener.
package org.duet.phone

import kotlinx.coroutines.runBlocking
import org.duet.sample.MeetingViewModel
import org.duet.sample.render
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import uniffi.duet_mobile.DuetApp
import uniffi.duet_mobile.PersonRole
import java.nio.file.Files

class TerminalPhoneTest {
    @Test
    fun `the view-model shows edits, ticks and what a sync brought`() = RelayProcess().use { relay ->
        DuetApp.open(Files.createTempDirectory("phone").toString(), "Ana").use { app ->
            app.createNotebook("Ana / Bo", PersonRole.MANAGER, "Bo")
            app.setRelay(relay.addr, relay.fingerprint)
            val ticket = app.invite()
            runBlocking {
                val model = MeetingViewModel(app, this)
                assertEquals("Ana / Bo", model.state.value.title)
                model.addItem("Promotion timeline").join()
                model.addNote("Busy week").join()
                val item = model.state.value.agenda.single()
                model.tick(item.id.take(8)).join()
                assertTrue(model.state.value.agenda.single().done, render(model.state.value))
                assertEquals(listOf("Busy week"), model.state.value.notes)

                model.sync().join()
                assertTrue(model.state.value.sync.startsWith("synced"), render(model.state.value))
                val laptop = Laptop("Bo")
                laptop.run("join", "-", "--as", "report", input = ticket)
                laptop.run("agenda", "add", "From the laptop")
                laptop.run("sync")
                model.sync().join()
                assertTrue(
                    model.state.value.agenda.any { it.text == "From the laptop" },
                    render(model.state.value),
                )
                assertTrue(model.state.value.sync.startsWith("synced: "), render(model.state.value))
                // An error is shown, worded for the person; nothing else changes.
                model.tick("zzzzzzzz").join()
                assertNotNull(model.state.value.error)
                print(render(model.state.value))
            }
        }
    }
}
