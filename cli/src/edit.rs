//! `duet edit`: a meeting in the person's own editor.
//!
//! The command runs in the person's terminal and holds nothing while the editor is open:
//! it reads the meeting (through the running node, or by opening the home for a moment),
//! writes it as Markdown into a draft in the home, runs the editor on it, and hands the
//! saved draft back to be applied (again through the node or the home). The draft and what
//! it was written from stay in the home until the edit is applied, so a file that does not
//! read back, an editor that fails or a killed terminal loses nothing: `duet edit --resume`
//! goes on with it.
//!
//! Drafts live in `HOME/drafts/` (owner-only: they hold the meeting's notes).

use crate::args::Cli;
use crate::commands::Output;
use crate::sheet::{self, Parts, People};
use crate::steps::{self, StepReply, Via};
use anyhow::{anyhow, Context, Result};
use duet_core::model::sheet::{Sheet, SheetChange};
use duet_core::{Duet, DuetError, Section, SheetReport, SheetSource};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The drafts folder inside the home.
pub const DRAFTS_DIR: &str = "drafts";
/// The editor used when neither `VISUAL` nor `EDITOR` is set.
pub const DEFAULT_EDITOR: &str = "vi";
/// The draft state's format; a draft of another format is refused, never misread.
const DRAFT_FORMAT: u32 = 1;

/// What is kept beside a draft until it is applied.
#[derive(Debug, Serialize, Deserialize)]
pub struct DraftState {
    /// [`DRAFT_FORMAT`].
    format: u32,
    /// The meeting as it was read, with the versions it was read at.
    source: SheetSource,
    /// Whether the file holds the whole meeting or one section.
    parts: Parts,
    /// The file as written.
    written: String,
    /// The file as written, read back: what the saved file is compared with.
    base: Sheet,
}

/// What `duet edit` was asked.
pub struct EditRequest {
    pub meeting: Option<String>,
    pub section: Option<Section>,
    pub resume: bool,
    pub discard: bool,
}

/// Runs `duet edit`.
pub fn run(home: &Path, cli: &Cli, request: EditRequest, out: &Output) -> Result<ExitCode> {
    let drafts = drafts_dir(home)?;
    if request.discard || request.resume {
        let draft = kept_draft(&drafts, request.meeting.as_deref())?;
        if request.discard {
            remove_draft(&draft);
            out.print(
                &crate::json::results::DraftDiscarded {
                    discarded: draft.paths.meeting.clone(),
                },
                || {
                    format!(
                        "Threw away the draft of the meeting on {}.\n",
                        draft.state.source.meeting.summary.date
                    )
                },
            );
            return Ok(ExitCode::SUCCESS);
        }
        return edit_and_apply(home, cli, &draft, out);
    }
    let mut argv = vec!["sheet-source".to_owned()];
    argv.extend(request.meeting.clone());
    let reply = step(home, cli, None, argv)?;
    if reply.code != 0 {
        return Ok(reply.pass_on());
    }
    let source: SheetSource = serde_json::from_str(&reply.stdout)
        .map_err(|e| anyhow!("the meeting came back in a form this duet cannot read: {e}"))?;
    let paths = DraftPaths::at(&drafts, &source.meeting.summary.id);
    if paths.state_path.exists() {
        return Err(anyhow!(DuetError::Invalid(format!(
            "an edit of the meeting on {} was not applied and its draft is kept; go on with it \
             with `duet edit --resume`, or throw it away with `duet edit --discard`",
            source.meeting.summary.date
        ))));
    }
    let parts = request.section.map_or(Parts::All, Parts::Only);
    let written = sheet::render(&source, parts);
    let base = sheet::parse(&written, &People::of(&source), &known_ids(&source))
        .map_err(|e| anyhow!("the meeting was written out in a form that does not read back ({e}); please report this"))?;
    let state = DraftState {
        format: DRAFT_FORMAT,
        source,
        parts,
        written,
        base,
    };
    write_private(&paths.file, state.written.as_bytes())?;
    write_private(&paths.state_path, &serde_json::to_vec(&state)?)?;
    let draft = Draft { paths, state };
    edit_and_apply(home, cli, &draft, out)
}

/// The editor on the draft, then the saved draft applied; the draft is kept on any failure.
fn edit_and_apply(home: &Path, cli: &Cli, draft: &Draft, out: &Output) -> Result<ExitCode> {
    run_editor(&draft.paths.file)?;
    let saved = fs::read_to_string(&draft.paths.file)
        .with_context(|| format!("reading the draft {}", draft.paths.file.display()))?;
    if saved == draft.state.written {
        remove_draft(draft);
        let nothing = crate::json::results::Edited {
            meeting: None,
            changes: Vec::new(),
        };
        out.print(&nothing, || "No changes; nothing written.\n".to_owned());
        return Ok(ExitCode::SUCCESS);
    }
    let argv = vec![
        "sheet-apply".to_owned(),
        draft.paths.state_path.to_string_lossy().into_owned(),
    ];
    let reply = step(home, cli, Some(&draft.state.source.notebook), argv)?;
    if reply.code != 0 {
        let code = reply.pass_on();
        eprintln!(
            "duet: your draft is kept in {}; fix it with `duet edit --resume`, or throw it away \
             with `duet edit --discard`",
            draft.paths.file.display()
        );
        return Ok(code);
    }
    let report: SheetReport = serde_json::from_str(&reply.stdout)
        .map_err(|e| anyhow!("the edit was applied, but its report cannot be read: {e}"))?;
    remove_draft(draft);
    out.print(
        &crate::json::results::Edited {
            meeting: Some(crate::json::notebook::MeetingSummary::from(&report.meeting)),
            changes: report.changes.clone(),
        },
        || summary(&report),
    );
    Ok(ExitCode::SUCCESS)
}

/// The sentence `duet edit` ends with.
fn summary(report: &SheetReport) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut count = |what: &'static str| match counts.iter_mut().find(|(w, _)| *w == what) {
        Some((_, n)) => *n += 1,
        None => counts.push((what, 1)),
    };
    let mut sections = Vec::new();
    for change in &report.changes {
        match change {
            SheetChange::AddItem { .. } => count("agenda item added"),
            SheetChange::MoveItem { .. } => count("agenda item moved"),
            SheetChange::TickItem { done: true, .. } => count("agenda item ticked"),
            SheetChange::TickItem { done: false, .. } => count("agenda item unticked"),
            SheetChange::RewordItem { .. } => count("agenda item reworded"),
            SheetChange::DropItem { .. } => count("agenda item dropped"),
            SheetChange::SetSection { section, .. } => sections.push(section.title()),
            SheetChange::AddCommitment { .. } => count("commitment added"),
            SheetChange::RewordCommitment { .. }
            | SheetChange::RedateCommitment { .. }
            | SheetChange::ReownCommitment { .. }
            | SheetChange::SetCommitmentStatus { .. } => count("commitment change"),
        }
    }
    let mut parts: Vec<String> = counts
        .into_iter()
        .map(|(what, n)| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        })
        .collect();
    if !sections.is_empty() {
        parts.push(format!("{} rewritten", sections.join(", ")));
    }
    format!(
        "Saved the meeting on {}: {}.\n",
        report.meeting.date,
        parts.join("; ")
    )
}

/// Runs the editor on a file, as `git commit` does: `$VISUAL`, else `$EDITOR`, else `vi`,
/// through the shell so an editor with flags (`code --wait`) works.
fn run_editor(file: &Path) -> Result<()> {
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_EDITOR.to_owned());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file)
        .status()
        .with_context(|| format!("starting the editor {editor:?}"))?;
    if !status.success() {
        return Err(anyhow!(DuetError::Invalid(format!(
            "the editor {editor:?} failed ({status}); your draft is kept in {}: go on with \
             `duet edit --resume`",
            file.display()
        ))));
    }
    Ok(())
}

/// The ids a file may carry: those it was written with.
fn known_ids(source: &SheetSource) -> BTreeSet<String> {
    source
        .meeting
        .agenda
        .iter()
        .map(|i| i.id.clone())
        .chain(source.meeting.commitments.iter().map(|c| c.id.clone()))
        .collect()
}

/// Where a meeting's draft lives: the file the editor opens and the state beside it.
struct DraftPaths {
    meeting: String,
    file: PathBuf,
    state_path: PathBuf,
}

impl DraftPaths {
    fn at(drafts: &Path, meeting: &str) -> DraftPaths {
        DraftPaths {
            meeting: meeting.to_owned(),
            file: drafts.join(format!("meeting-{meeting}.md")),
            state_path: drafts.join(format!("meeting-{meeting}.json")),
        }
    }
}

/// A kept draft.
struct Draft {
    paths: DraftPaths,
    state: DraftState,
}

impl Draft {
    fn load(drafts: &Path, meeting: &str) -> Result<Draft> {
        let paths = DraftPaths::at(drafts, meeting);
        let state = read_state(&paths.state_path)?;
        Ok(Draft { paths, state })
    }
}

fn read_state(path: &Path) -> Result<DraftState> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let state: DraftState = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(DuetError::Invalid(format!(
            "the draft state {} cannot be read ({e}); throw it away with `duet edit --discard`",
            path.display()
        )))
    })?;
    if state.format != DRAFT_FORMAT {
        return Err(anyhow!(DuetError::Invalid(format!(
            "the draft {} was written by another version of duet (format {})",
            path.display(),
            state.format
        ))));
    }
    Ok(state)
}

/// The kept draft for a meeting (by id prefix or date), or the only one kept.
fn kept_draft(drafts: &Path, meeting: Option<&str>) -> Result<Draft> {
    let mut kept = Vec::new();
    for entry in fs::read_dir(drafts).with_context(|| format!("reading {}", drafts.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(id) = name
            .strip_prefix("meeting-")
            .and_then(|n| n.strip_suffix(".json"))
        {
            kept.push(Draft::load(drafts, id)?);
        }
    }
    if let Some(query) = meeting {
        kept.retain(|d| {
            d.paths.meeting.starts_with(query) || d.state.source.meeting.summary.date == query
        });
    }
    match kept.len() {
        1 => Ok(kept.remove(0)),
        0 => Err(anyhow!(DuetError::NotFound {
            kind: "kept draft",
            query: meeting.unwrap_or("any meeting").to_owned(),
        })),
        _ => Err(anyhow!(DuetError::Ambiguous {
            kind: "kept draft",
            query: meeting.unwrap_or("").to_owned(),
            candidates: kept
                .iter()
                .map(|d| d.state.source.meeting.summary.date.clone())
                .collect(),
        })),
    }
}

fn remove_draft(draft: &Draft) {
    let _ = fs::remove_file(&draft.paths.file);
    let _ = fs::remove_file(&draft.paths.state_path);
}

fn drafts_dir(home: &Path) -> Result<PathBuf> {
    let dir = home.join(DRAFTS_DIR);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("making {}", dir.display()))?;
    Ok(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs one of `duet edit`'s steps (a hidden command) through the running node, or on the
/// home opened for that step only.
fn step(home: &Path, cli: &Cli, notebook: Option<&str>, argv: Vec<String>) -> Result<StepReply> {
    let mut full = Vec::new();
    if cli.json {
        full.push("--json".to_owned());
    }
    if let Some(nb) = notebook.map(str::to_owned).or_else(|| cli.notebook.clone()) {
        full.extend(["--notebook".to_owned(), nb]);
    }
    full.extend(argv);
    steps::run(Via::Home(home), full)
}

/// `duet sheet-source`: the meeting as JSON, always (it is read by `duet edit`).
pub fn source(duet: &mut Duet, meeting: Option<&str>, out: &Output) -> Result<()> {
    let source = duet.meetings().sheet(meeting)?;
    out.write(&serde_json::to_string(&source)?);
    Ok(())
}

/// `duet sheet-apply STATE`: reads the draft beside the state, applies it, prints the
/// report as JSON, always (it is read by `duet edit`).
pub fn apply(duet: &mut Duet, state_path: &Path, out: &Output) -> Result<()> {
    let state = read_state(state_path)?;
    let file = state_path.with_extension("md");
    let saved = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let edited = sheet::parse(
        &saved,
        &People::of(&state.source),
        &known_ids(&state.source),
    )
    .map_err(|e| anyhow!(DuetError::Invalid(format!("{}: {e}", file.display()))))?;
    let report = duet.meetings().apply_sheet(
        &state.source.meeting.summary.id,
        &state.source.heads,
        &state.base,
        &edited,
    )?;
    out.write(&serde_json::to_string(&report)?);
    Ok(())
}
