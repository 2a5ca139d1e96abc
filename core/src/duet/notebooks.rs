//! Notebooks: create, list, choose, rename, and set the cadence.
use super::*;

impl Duet {
    // ---- notebooks ----------------------------------------------------------------------

    /// Creates a notebook for this person (as `me`) and another (`with`), with its first
    /// meeting on `first`, and makes it current.
    pub fn notebook_new(
        &mut self,
        title: &str,
        me: Role,
        with: &str,
        cadence: Cadence,
        first: Date,
    ) -> Result<NotebookView, DuetError> {
        let title = clean_text(title, "title")?;
        let with = clean_text(with, "name")?;
        check_cadence(cadence)?;
        let secret = NotebookSecret::generate();
        let id = secret.notebook_id();
        let my_id = ids::new_id();
        let their_id = ids::new_id();
        let device = self.device.public_hex();
        let mut nb = Notebook::fresh(&self.store, &id, &self.actor);
        index::create(
            &mut nb.index()?.am,
            &NewNotebook {
                title: &title,
                people: [
                    Person {
                        id: my_id.clone(),
                        name: self.name.clone(),
                        role: me,
                    },
                    Person {
                        id: their_id.clone(),
                        name: with,
                        role: me.other(),
                    },
                ],
                device: (&device, &my_id),
                cadence,
            },
        )?;
        crate::model::members::mark_relay_bound(&mut nb.index()?.am)?;
        self.begin_notebook_log(&mut nb, &my_id, [&my_id, &their_id], &secret)?;
        let mut open = Doc::fresh(&self.actor);
        commitments::create(&mut open.am)?;
        nb.commitments = Some(open);
        nb.create_meeting(&ids::new_id(), &first.to_string())?;
        self.write_device_record(&mut nb)?;
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: self.seal_notebook_secret(&id, secret.as_bytes()),
            title,
            personal: false,
        })?;
        self.store
            .put(&crate::duet::settings::CurrentNotebook(), &id)?;
        nb.persist(&mut self.store)?;
        self.selected = Some(id);
        self.notebook()
    }

    /// Every notebook of this home.
    pub fn notebooks(&self) -> Result<Vec<NotebookView>, DuetError> {
        let current = self.current_id().ok();
        let mut out = Vec::new();
        for record in self.shared_records()? {
            let is_current = current.as_deref() == Some(record.id.as_str());
            if self.join_pending(&record.id)?
                && self.store.load_doc(&record.id, INDEX_DOC)?.is_none()
            {
                // Joined from an invite; nothing has arrived yet but the title.
                out.push(NotebookView {
                    id: record.id,
                    title: record.title,
                    people: Vec::new(),
                    cadence: Cadence::default(),
                    me: None,
                    current: is_current,
                    ended: None,
                });
                continue;
            }
            let mut nb = Notebook::load(&self.store, &record.id, &self.actor)?;
            out.push(self.view_of(&mut nb, is_current)?);
        }
        out.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Makes a notebook (by id prefix or title) the current one.
    pub fn use_notebook(&mut self, notebook: &str) -> Result<NotebookView, DuetError> {
        let id = self.resolve_notebook(notebook)?;
        self.store
            .put(&crate::duet::settings::CurrentNotebook(), &id)?;
        self.store.flush()?;
        self.selected = Some(id);
        self.notebook()
    }

    /// The selected notebook.
    pub fn notebook(&self) -> Result<NotebookView, DuetError> {
        let mut nb = self.load()?;
        let is_current = self.current_id().ok().as_deref() == Some(nb.id.as_str());
        let view = self.view_of(&mut nb, is_current)?;
        // Kept for the next call: a view over every meeting starts here, and a node's
        // notebook holds what it has read.
        self.keep(nb);
        Ok(view)
    }

    /// Renames the selected notebook.
    pub fn rename(&mut self, title: &str) -> Result<NotebookView, DuetError> {
        let title = clean_text(title, "title")?;
        let mut nb = self.load()?;
        index::set_title(&mut nb.index()?.am, &title)?;
        self.save(&mut nb, &undo::quoting("title", &title))?;
        self.notebook()
    }

    /// Changes how often the pair meets.
    pub fn set_cadence(&mut self, cadence: Cadence) -> Result<NotebookView, DuetError> {
        check_cadence(cadence)?;
        let mut nb = self.load()?;
        index::set_cadence(&mut nb.index()?.am, cadence)?;
        self.save(&mut nb, "rhythm")?;
        self.notebook()
    }
}
