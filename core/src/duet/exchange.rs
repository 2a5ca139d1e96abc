//! Offline exchange: Automerge exports and imports, bundle files, and the merge they share.
use super::*;

impl Duet {
    // ---- exchange -----------------------------------------------------------------------

    /// Writes every document of the selected notebook as standard `.automerge` files plus a
    /// manifest into `dir`.
    pub fn export_automerge(&self, dir: &Path) -> Result<ExportManifest, DuetError> {
        let mut nb = self.load()?;
        std::fs::create_dir_all(dir).map_err(|e| DuetError::io("creating", dir, e))?;
        let mut documents = Vec::new();
        for id in nb.all_doc_ids()? {
            let (kind, file) = match id.as_str() {
                INDEX_DOC => ("index", "index.automerge".to_owned()),
                COMMITMENTS_DOC => ("commitments", "commitments.automerge".to_owned()),
                _ => ("meeting", format!("meeting-{id}.automerge")),
            };
            let bytes = nb.doc(&id)?.am.save();
            write_atomically(&dir.join(&file), &bytes)?;
            documents.push(ExportedDoc {
                id,
                kind: kind.into(),
                file,
            });
        }
        let manifest = ExportManifest {
            format: MANIFEST_FORMAT.into(),
            version: 1,
            notebook_id: nb.id.clone(),
            title: index::title(&nb.index()?.am)?,
            documents,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| DuetError::Internal(format!("manifest: {e}")))?;
        write_atomically(&dir.join(MANIFEST_FILE), &json)?;
        Ok(manifest)
    }

    /// Merges an Automerge export folder (possibly edited by another Automerge
    /// implementation) into the notebook it belongs to.
    pub fn import_automerge(&mut self, dir: &Path) -> Result<MergeReport, DuetError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let raw = std::fs::read(&manifest_path)
            .map_err(|e| DuetError::io("reading", &manifest_path, e))?;
        let manifest: ExportManifest = serde_json::from_slice(&raw).map_err(|e| {
            DuetError::BadImport(format!(
                "{} is not a Duet export manifest: {e}",
                manifest_path.display()
            ))
        })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(DuetError::BadImport(format!(
                "{} is not a Duet export manifest",
                manifest_path.display()
            )));
        }
        if !self
            .store
            .notebooks()?
            .iter()
            .any(|r| r.id == manifest.notebook_id)
        {
            return Err(DuetError::UnknownNotebook {
                title: manifest.title,
                id: manifest.notebook_id,
                hint: "an export carries no secret, so join the notebook first with a bundle (duet bundle in FILE --join --as manager|report)",
            });
        }
        let mut docs = Vec::new();
        for d in &manifest.documents {
            if d.file.contains(['/', '\\']) || d.file.starts_with('.') {
                return Err(DuetError::BadImport(format!(
                    "manifest names a file outside the folder: {:?}",
                    d.file
                )));
            }
            let path = dir.join(&d.file);
            let bytes = std::fs::read(&path).map_err(|e| DuetError::io("reading", &path, e))?;
            docs.push(BundleDoc {
                id: d.id.clone(),
                bytes,
            });
        }
        self.merge_docs(&manifest.notebook_id, docs, false)
    }

    /// Writes the selected notebook as one bundle file. Like a sync, it first brings this
    /// device's membership up to date (its record, the epoch, the membership log).
    pub fn bundle_out(&mut self, path: &Path) -> Result<usize, DuetError> {
        let id = self.selected_notebook()?;
        self.register_before_sync(&id)?;
        let mut nb = self.load()?;
        let record = self.record(&nb.id)?;
        let mut docs = Vec::new();
        for id in nb.all_doc_ids()? {
            let bytes = nb.doc(&id)?.am.save();
            docs.push(BundleDoc { id, bytes });
        }
        let mut secret = self.open_notebook_secret(&record)?;
        // After a removal, the epoch in force follows the secret, for a device joining
        // from this file (an older Duet reads such a bundle as damaged).
        if let Some((id, number, key)) = self.epoch_grant(&nb.id)? {
            let grant = crate::invite::EpochGrant {
                id,
                number,
                key: *key.as_bytes(),
            };
            secret.extend(postcard::to_allocvec(&grant).unwrap_or_default());
        }
        let bundle = Bundle {
            notebook_id: nb.id.clone(),
            secret,
            title: index::title(&nb.index()?.am)?,
            docs,
        };
        let bytes = bundle.encode();
        write_atomically(path, &bytes)?;
        Ok(bytes.len())
    }

    /// Merges a bundle file. A bundle for a notebook this home lacks is refused unless
    /// `join` says who this device is in it.
    pub fn bundle_in(
        &mut self,
        path: &Path,
        join: Option<JoinAs>,
    ) -> Result<MergeReport, DuetError> {
        let bytes =
            crate::bundle::read_file(path).map_err(|e| DuetError::io("reading", path, e))??;
        let bundle = Bundle::decode(&bytes)?;
        let damaged = || DuetError::Bundle(crate::bundle::BundleError::Damaged);
        let (raw_secret, raw_grant) = bundle.secret.split_at(bundle.secret.len().min(32));
        let secret = NotebookSecret::from_bytes(raw_secret).map_err(|_| damaged())?;
        let grant = if raw_grant.is_empty() {
            None
        } else {
            let (grant, rest): (crate::invite::EpochGrant, _) =
                postcard::take_from_bytes(raw_grant).map_err(|_| damaged())?;
            if !rest.is_empty() {
                return Err(damaged());
            }
            Some(grant)
        };
        if secret.notebook_id() != bundle.notebook_id {
            return Err(DuetError::Bundle(crate::bundle::BundleError::Damaged));
        }
        let known = self
            .store
            .notebooks()?
            .iter()
            .any(|r| r.id == bundle.notebook_id);
        if known {
            return self.merge_docs(&bundle.notebook_id, bundle.docs, false);
        }
        let Some(JoinAs::Role(role)) = join else {
            return Err(DuetError::UnknownNotebook {
                title: bundle.title,
                id: bundle.notebook_id,
                hint: "to add it here, run the same command with --join --as manager|report",
            });
        };
        if let Some(grant) = &grant {
            let key = crate::crypto::EpochKey::from_bytes(&grant.key).map_err(|_| damaged())?;
            self.keep_epoch_copy(&bundle.notebook_id, &grant.id, grant.number, &key)?;
        }
        self.join_from_docs(&secret, &bundle.title, bundle.docs, role)
    }

    fn join_from_docs(
        &mut self,
        secret: &NotebookSecret,
        title: &str,
        docs: Vec<BundleDoc>,
        role: Role,
    ) -> Result<MergeReport, DuetError> {
        let id = secret.notebook_id();
        let Some(index_doc) = docs.iter().find(|d| d.id == INDEX_DOC) else {
            return Err(DuetError::BadImport(
                "the file has no index document".into(),
            ));
        };
        let index = Doc::from_bytes(&index_doc.bytes, &self.actor)?;
        index::validate(&index.am)?;
        let person = index::people(&index.am)?
            .into_iter()
            .find(|p| p.role == role)
            .ok_or_else(|| DuetError::Invalid(format!("the notebook has no {role}")))?;
        self.store.put_notebook(&NotebookRecord {
            id: id.clone(),
            secret_hex: self.seal_notebook_secret(&id, secret.as_bytes()),
            title: title.to_owned(),
            personal: false,
        })?;
        let mut report = self.merge_docs(&id, docs, true)?;
        let mut nb = Notebook::load(&self.store, &id, &self.actor)?;
        self.enroll_device(&mut nb, &person.id)?;
        self.store
            .put(&crate::duet::settings::CurrentNotebook(), &id)?;
        nb.persist(&mut self.store)?;
        self.selected = Some(id);
        report.joined = true;
        Ok(report)
    }

    fn merge_docs(
        &mut self,
        notebook: &str,
        docs: Vec<BundleDoc>,
        joining: bool,
    ) -> Result<MergeReport, DuetError> {
        // The merge writes behind any cached copy: drop it.
        self.cache.borrow_mut().take();
        // Parse and check everything before changing anything.
        let mut incoming = Vec::new();
        for d in docs {
            let doc = Doc::from_bytes(&d.bytes, &self.actor).map_err(|e| {
                DuetError::BadImport(format!("document {} does not load: {e}", d.id))
            })?;
            if d.id == INDEX_DOC {
                index::validate(&doc.am)?;
            } else if d.id == COMMITMENTS_DOC {
                commitments::validate(&doc.am)?;
            } else {
                let mid = meeting::validate(&doc.am)?;
                if mid != d.id || d.id.is_empty() || d.id.contains('\0') {
                    return Err(DuetError::BadImport(format!(
                        "document {} claims to be meeting {mid}",
                        d.id
                    )));
                }
            }
            incoming.push((d.id, doc));
        }
        let mut nb = if joining {
            let pos = incoming.iter().position(|(id, _)| id == INDEX_DOC);
            let Some(pos) = pos else {
                return Err(DuetError::BadImport(
                    "the file has no index document".into(),
                ));
            };
            let (_, index) = incoming.remove(pos);
            let mut nb = Notebook::fresh(&self.store, notebook, &self.actor);
            nb.index()?
                .am
                .merge(&mut { index }.am)
                .map_err(crate::model::ModelError::from)?;
            nb
        } else {
            Notebook::load(&self.store, notebook, &self.actor)?
        };
        let mut report = MergeReport {
            notebook: notebook.to_owned(),
            joined: false,
            changes: 0,
            documents: 0,
            reconciled: 0,
        };
        if joining {
            report.changes += nb.index()?.am.get_changes(&[]).len();
            report.documents += 1;
        }
        for (id, mut doc) in incoming {
            let target = nb.doc_or_empty(&id)?;
            let before = target.am.get_heads();
            target
                .am
                .merge(&mut doc.am)
                .map_err(crate::model::ModelError::from)?;
            if target.am.get_heads() != before {
                report.documents += 1;
                report.changes += target.am.get_changes(&before).len();
            }
        }
        report.reconciled = nb.reconcile_moves()?;
        nb.persist(&mut self.store)?;
        Ok(report)
    }
}

/// Writes a file via a temporary sibling and a rename, so a crash never leaves half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DuetError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| DuetError::io("writing", path, e))?;
    tmp.write_all(bytes)
        .map_err(|e| DuetError::io("writing", path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| DuetError::io("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| DuetError::io("writing", path, e.error))?;
    Ok(())
}
