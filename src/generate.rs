//! The `generate` command: print-ready ballots for one unit, with unique serials recorded in
//! `issued.csv` so that returned ballots can later be reconciled against what was handed out.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::form::Form;
use crate::issued::{self, IssuedBallot};
use crate::layout::Layout;
use crate::output;
use crate::payload::{Payload, SigningKey};
use crate::registry::Registry;
use crate::render::{self, raster};

pub struct Request<'a> {
    pub form: &'a Form,
    pub registry: &'a Registry,
    pub unit: &'a str,
    pub count: u32,
    pub first_serial: Option<u32>,
    pub key: Option<&'a SigningKey>,
    pub out_dir: &'a Path,
    /// Also write one PNG per ballot at this DPI.
    pub png_dpi: Option<u32>,
}

#[derive(Debug)]
pub struct Report {
    pub first_serial: u32,
    pub last_serial: u32,
    pub pdf: PathBuf,
    pub pngs: Vec<PathBuf>,
}

pub fn generate(req: &Request) -> anyhow::Result<Report> {
    use anyhow::{bail, Context};
    let unit = req.registry.get(req.unit).with_context(|| {
        format!(
            "unit {:?} is not in the units registry; use one of its codes (see --units)",
            req.unit
        )
    })?;
    if req.count == 0 {
        bail!("--count must be at least 1");
    }
    if let Some(dpi) = req.png_dpi.filter(|d| !(150..=600).contains(d)) {
        bail!("--dpi must be from 150 to 600 (got {dpi})");
    }
    // Held until the serials are recorded: two runs reading the same issued.csv would both
    // continue after its last serial.
    let _lock = crate::results::lock_print_folder(req.out_dir)?;
    let issued_path = req.out_dir.join("issued.csv");
    let mut issued = if issued_path.exists() {
        issued::read(&issued_path)?
    } else {
        Vec::new()
    };
    let already: Vec<u32> = issued
        .iter()
        .filter(|b| b.unit == unit.code)
        .map(|b| b.serial)
        .collect();
    let first = match req.first_serial {
        Some(f) => f,
        None => already.iter().max().map_or(1, |m| m + 1),
    };
    let last = first
        .checked_add(req.count - 1)
        .filter(|&l| l <= 999_999_999)
        .context("serials would exceed 999999999")?;
    if let Some(s) = already.iter().find(|&&s| (first..=last).contains(&s)) {
        bail!(
            "serial {s:06} was already issued to {} according to {}: serials must stay unique within a unit (leave out --first-serial to continue after the last one)",
            unit.code,
            issued_path.display()
        );
    }

    let layout = Layout::new(req.form)?;
    let payloads: Vec<Payload> = (first..=last)
        .map(|s| {
            let p = Payload::new(&req.form.id, req.form.version, &unit.code, s);
            match req.key {
                Some(k) => p.signed(k),
                None => p,
            }
        })
        .collect();
    let pages = payloads
        .iter()
        .map(|p| render::ballot_shapes(&layout, p, &unit.name))
        .collect::<Result<Vec<_>, _>>()?;

    // The serials are recorded before any file is printed: a run killed half-way leaves
    // serials issued but unprinted (reported missing by `tally --issued`), never printed
    // ballots whose serials the next run would issue again.
    issued.extend(payloads.iter().map(IssuedBallot::of));
    issued::table(&issued).write(&issued_path)?;

    let mut pngs = Vec::new();
    if let Some(dpi) = req.png_dpi {
        let dir = req.out_dir.join("png");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        pngs = pages
            .par_iter()
            .zip(&payloads)
            .map(|(shapes, p)| -> anyhow::Result<PathBuf> {
                let img = raster::render(shapes, dpi as f64);
                let path = dir.join(format!("{}-{}.png", p.unit, p.serial_text()));
                let mut bytes = Vec::new();
                img.write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )?;
                output::write_atomic(&path, &bytes)?;
                Ok(path)
            })
            .collect::<Result<_, _>>()?;
    }

    let pdf = req.out_dir.join(format!(
        "ballots-{}-{}-{}.pdf",
        unit.code,
        payloads[0].serial_text(),
        payloads[payloads.len() - 1].serial_text()
    ));
    output::write_atomic(&pdf, &render::pdf::write_pdf(&pages)?)?;

    let json = serde_json::to_vec_pretty(&layout.to_json())?;
    output::write_atomic(&req.out_dir.join("layout.json"), &json)?;

    Ok(Report {
        first_serial: first,
        last_serial: last,
        pdf,
        pngs,
    })
}
