//! Seeded synthetic data with ground truth: every canonical input table of a health plan and provider network.
//!
//! People are generated in fixed-size chunks, each from its own random stream derived from the seed and the
//! chunk number, so the lake is the same for a seed whatever the number of threads. Chunks are generated in
//! parallel and streamed into Delta tables in order, so memory stays bounded at any size.

mod chronic;
mod clinical;
pub mod codes;
mod engagement;
mod enrollment;
mod events;
pub mod names;
pub mod places;
pub mod population;
pub mod records;
pub mod rng;
mod screenings;

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::lake::{block_on, DeltaTableWriter, Location, OpenedWrite, WriteMode};
use crate::model::{self, BatchBuilder, TableSpec};
use crate::pipeline::progress::Progress;
use clinical::{plant_clinical, ClinicalSinks};
use engagement::{plant_engagement, EngagementSinks};
use population::PopulationSampler;
use records::render_person_records;
use rng::Rng;

/// People per chunk. Fixed: changing it changes the lake a seed produces.
pub const CHUNK_PEOPLE: u64 = 4_096;

/// The largest population the generator accepts.
pub const MAX_MEMBERS: u64 = 100_000_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of true people (members).
    pub members: u64,
    /// Seed: the same seed, members and as-of date give the same lake.
    pub seed: u64,
    /// The date the data is "as of": events up to it, appointments after it; its year is the measurement year.
    pub as_of: NaiveDate,
    /// Multiplies the everyday background visits (1 = about 10 events per member; benchmarks use 5 for about 50).
    pub visit_scale: u32,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// Table name, location and rows written, in write order.
    pub tables: Vec<(String, String, u64)>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// True when this exact lake had already been written there (nothing was rewritten).
    pub already_present: bool,
}

/// The tables the generator writes: the canonical inputs, then the ground truth.
pub fn generated_tables() -> Vec<TableSpec> {
    vec![
        model::person_records(),
        model::enrollment(),
        model::clinical_events(),
        model::appointments(),
        model::consents(),
        model::communications(),
        model::truth_person_records(),
        model::truth_care_gaps(),
    ]
}

/// Generate one chunk of people into one batch per generated table.
pub fn generate_chunk(
    sampler: &PopulationSampler,
    opts: &GenerateOptions,
    chunk: u64,
) -> CoreResult<Vec<RecordBatch>> {
    let first = chunk * CHUNK_PEOPLE;
    let count = CHUNK_PEOPLE.min(opts.members - first);
    let mut rng = Rng::new(opts.seed, &[chunk]);
    let people = sampler.people(&mut rng, first, count, opts.as_of);
    let n = people.len();
    let specs = generated_tables();
    let mut b: Vec<BatchBuilder> = specs
        .iter()
        .zip([2, 3, 16, 1, 2, 1, 2, 2])
        .map(|(spec, per_person)| BatchBuilder::new(spec, n * per_person))
        .collect();
    let [records, enrollment, events, appointments, consents, communications, truth_records, truth_gaps] =
        &mut b[..]
    else {
        unreachable!("eight generated tables")
    };
    for person in &people {
        let mut person_rng = Rng::new(opts.seed, &[chunk, person.index, 1]);
        let keys = render_person_records(person, &mut person_rng, opts.as_of, records, truth_records);
        plant_clinical(
            person,
            &keys,
            &mut person_rng,
            opts.as_of,
            opts.visit_scale,
            ClinicalSinks {
                enrollment,
                events,
                truth: truth_gaps,
            },
        );
        plant_engagement(
            person,
            &keys,
            &mut person_rng,
            opts.as_of,
            EngagementSinks {
                appointments,
                consents,
                communications,
            },
        );
    }
    b.iter_mut().map(BatchBuilder::finish).collect()
}

/// Generate a synthetic lake under `out` (one Delta table per generated table).
pub fn generate(
    out: &Location,
    opts: &GenerateOptions,
    progress: &dyn Progress,
) -> CoreResult<GenerateSummary> {
    if !(1..=20).contains(&opts.visit_scale) {
        return Err(CoreError::Config(format!(
            "visit_scale must be between 1 and 20, got {}",
            opts.visit_scale
        )));
    }
    if opts.members == 0 || opts.members > MAX_MEMBERS {
        return Err(CoreError::Config(format!(
            "members must be between 1 and {MAX_MEMBERS}, got {}",
            opts.members
        )));
    }
    let started = Instant::now();
    let specs = generated_tables();
    let run_key = format!(
        "generate/seed={}/members={}/as_of={}/visits={}/v{}",
        opts.seed,
        opts.members,
        opts.as_of,
        opts.visit_scale,
        crate::VERSION
    );

    let mut writers = Vec::with_capacity(specs.len());
    let mut skipped = 0;
    for spec in &specs {
        let location = out.join(spec.name);
        let opened = block_on(DeltaTableWriter::open(
            &location,
            spec.arrow_schema(),
            spec.comment,
            WriteMode::Overwrite,
            Some(&run_key),
        ))?;
        if matches!(opened, OpenedWrite::AlreadyCommitted(_)) {
            skipped += 1;
        }
        writers.push((spec.name.to_string(), location, opened));
    }
    if skipped == writers.len() {
        return Ok(GenerateSummary {
            tables: writers
                .into_iter()
                .map(|(name, loc, _)| (name, loc.to_string(), 0))
                .collect(),
            seconds: started.elapsed().as_secs_f64(),
            already_present: true,
        });
    }

    let chunks = opts.members.div_ceil(CHUNK_PEOPLE);
    let sampler = PopulationSampler::default();
    let window = (rayon::current_num_threads() as u64 * 2).max(2);
    progress.start("generate", opts.members);
    let (sender, receiver) = sync_channel::<CoreResult<(u64, Vec<RecordBatch>)>>(window as usize);
    let mut rows = vec![0u64; writers.len()];
    let sampler = &sampler;
    let result: CoreResult<()> = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut start = 0;
            while start < chunks {
                let end = (start + window).min(chunks);
                let batch: Vec<_> = (start..end)
                    .into_par_iter()
                    .map(|chunk| generate_chunk(sampler, opts, chunk).map(|b| (chunk, b)))
                    .collect();
                for item in batch {
                    if sender.send(item).is_err() {
                        return; // the writer stopped (an error); stop generating
                    }
                }
                start = end;
            }
        });
        block_on(async {
            // Owning the receiver here drops it on an early error, which stops the generating thread.
            let receiver = receiver;
            for item in receiver.iter() {
                let (chunk, batches) = item?;
                for ((_, _, opened), (batch, count)) in
                    writers.iter_mut().zip(batches.into_iter().zip(rows.iter_mut()))
                {
                    if let OpenedWrite::Writer(writer) = opened {
                        *count += batch.num_rows() as u64;
                        writer.write(batch).await?;
                    }
                }
                let first = chunk * CHUNK_PEOPLE;
                progress.advance(CHUNK_PEOPLE.min(opts.members - first));
            }
            Ok(())
        })
    });
    result?;
    let mut tables = Vec::with_capacity(writers.len());
    for ((name, location, opened), count) in writers.into_iter().zip(rows) {
        if let OpenedWrite::Writer(writer) = opened {
            block_on(writer.finish())?;
        }
        tables.push((name, location.to_string(), count));
    }
    progress.finish();
    Ok(GenerateSummary {
        tables,
        seconds: started.elapsed().as_secs_f64(),
        already_present: false,
    })
}
