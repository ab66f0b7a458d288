//! `latch completions` and `latch man`: what an installation of the binary adds to a shell.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

/// Print the shell completion script (bash, zsh, fish, elvish or PowerShell).
///
/// With it installed, latch's commands, options and their values complete on Tab.
///
/// Install it for bash (new shells pick it up; needs the bash-completion package):
///   mkdir -p ~/.local/share/bash-completion/completions
///   latch completions bash > ~/.local/share/bash-completion/completions/latch
///
/// Install it for zsh (into a folder on $fpath, read by compinit):
///   mkdir -p ~/.zfunc
///   latch completions zsh > ~/.zfunc/_latch
///   # and in ~/.zshrc, before `compinit`:  fpath=(~/.zfunc $fpath)
///
/// Examples:
///   source <(latch completions bash)            # this shell only
///   latch completions fish > ~/.config/fish/completions/latch.fish
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print the manual page of latch (roff), or write one page per command into a folder.
///
/// Examples:
///   latch man | man -l -                        # read it now
///   latch man --out ~/.local/share/man/man1     # latch.1, latch-scan.1, ...; then `man latch-scan`
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ManArgs {
    /// Write latch.1 and a page per command and subcommand (latch-scan.1, latch-catalog-show.1,
    /// ...) into this folder, created if missing, instead of printing latch.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs `latch completions`; `cmd` is the whole command line interface.
pub fn run_completions(args: &CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "latch", &mut buf);
    let mut stdout = io::stdout().lock();
    stdout.write_all(&buf).and_then(|()| stdout.flush())?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `latch man`; `cmd` is the whole command line interface.
pub fn run_man(args: &ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let Some(dir) = &args.out else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        let mut stdout = io::stdout().lock();
        stdout.write_all(&buf).and_then(|()| stdout.flush())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = 0_usize;
    write_pages(cmd, dir, &mut written)
        .with_context(|| format!("cannot write the manual pages into `{}`", dir.display()))?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "wrote {written} manual pages into {} (latch.1, latch-scan.1, ...)",
        dir.display()
    )
    .and_then(|()| stdout.flush())?;
    Ok(ExitCode::SUCCESS)
}

/// One page for `cmd` and, depth first, for each of its visible subcommands.
fn write_pages(cmd: clap::Command, dir: &Path, written: &mut usize) -> io::Result<()> {
    let subcommands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    for sub in subcommands {
        write_pages(sub, dir, written)?;
    }
    clap_mangen::Man::new(cmd).generate_to(dir)?;
    *written += 1;
    Ok(())
}
