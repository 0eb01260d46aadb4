//! Warm restart: the windows of every SLO as a file's bytes ([`persist`]), and their
//! restore for the SLOs whose shape (fingerprint) did not change.

use std::collections::HashMap;

use crate::query::MetricsSource;
use crate::window::Window;

use super::{coverage, persist, Engine};

impl<S: MetricsSource> Engine<S> {
    /// What shapes an SLO's windows: a saved image of another fingerprint is not its own.
    fn fingerprint(&self, q: usize) -> String {
        let sq = &self.queries[q];
        let e = &self.streams.slos[sq.slo];
        let windows: Vec<String> = self.streams.groups[e.group]
            .windows
            .iter()
            .map(Window::to_string)
            .collect();
        let tiers: Vec<String> = e
            .tiers
            .iter()
            .map(|t| format!("{}:{}:{}:{}", t.severity, t.long, t.short, t.factor))
            .collect();
        let templates: Vec<&str> = sq.sides().iter().map(|(_, t)| t.as_template()).collect();
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            templates.join("\n"),
            windows.join(","),
            tiers.join(","),
            e.budget,
            self.eval.buckets,
            self.eval.lateness,
            sq.region_label
        );
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The windows of every SLO, as a warm-restart file's bytes ([`persist`]).
    pub fn windows_image(&self) -> Vec<u8> {
        let mut data: Vec<u64> = Vec::new();
        let mut slos = Vec::new();
        // Each SLO's streams from one pass (not a pass over every stream per SLO).
        let mut regions_of: HashMap<usize, Vec<String>> = HashMap::new();
        for (sref, key) in self.streams.all() {
            if let Some(slo) = self.streams.slo_of(sref) {
                regions_of.entry(slo).or_default().push(key.region.clone());
            }
        }
        for q in 0..self.queries.len() {
            let sq = &self.queries[q];
            let e = &self.streams.slos[sq.slo];
            let store = &self.streams.groups[e.group].core.store;
            let Some(clock) = store.clock() else { continue };
            let mut streams = Vec::new();
            for r in regions_of.remove(&sq.slo).unwrap_or_default() {
                if streams.iter().any(|s: &persist::SavedStream| s.region == r) {
                    continue;
                }
                let Some(sref) = self.streams.find(sq.slo, &r) else {
                    continue;
                };
                let (tier_bits, alert_bits) = self.streams.groups[sref.group].core.bits(sref.id);
                streams.push(persist::SavedStream {
                    region: r,
                    tier_bits,
                    alert_bits,
                    offset: data.len(),
                });
                data.extend(store.image(sref.id));
            }
            let (cover, gaps) = self.coverage.export(q);
            slos.push(persist::SavedSlo {
                key: format!("{}/{}", sq.service, sq.name),
                fingerprint: self.fingerprint(q),
                clock,
                image_len: store.image_len(),
                streams,
                cover,
                gaps: gaps
                    .into_iter()
                    .map(|g| persist::SavedGap {
                        regions: g.regions.map(|r| r.into_iter().collect()),
                        from: g.from,
                        to: g.to,
                        initial: g.initial,
                    })
                    .collect(),
            });
        }
        let header = persist::Header {
            version: env!("CARGO_PKG_VERSION").into(),
            saved_at: self.last_at.unwrap_or(0),
            slos,
        };
        persist::encode(&header, &data)
    }

    /// Restores the windows of every SLO whose saved image is its own (same fingerprint)
    /// from a warm-restart file, before the start-up backfill: those SLOs fetch only the
    /// span since the file was written; the others backfill cold. Returns the restored
    /// and the cold SLO keys.
    pub fn restore_windows(
        &mut self,
        bytes: &[u8],
        now: i64,
    ) -> Result<(Vec<String>, Vec<String>), persist::PersistError> {
        let (header, data) = persist::decode(bytes)?;
        if header.saved_at <= 0 || header.saved_at > now {
            return Err(persist::PersistError::Malformed(format!(
                "saved at {} (now {now})",
                header.saved_at
            )));
        }
        let mut restored = Vec::new();
        let mut cold = Vec::new();
        let by_key: HashMap<&str, &persist::SavedSlo> =
            header.slos.iter().map(|s| (s.key.as_str(), s)).collect();
        for q in 0..self.queries.len() {
            let key = format!("{}/{}", self.queries[q].service, self.queries[q].name);
            let saved = by_key.get(key.as_str()).copied();
            let fits = saved.filter(|s| {
                let store = &self.streams.groups[self.streams.slos[self.queries[q].slo].group]
                    .core
                    .store;
                s.fingerprint == self.fingerprint(q)
                    && s.image_len == store.image_len()
                    && store.clock().is_none_or(|c| c == s.clock)
                    && s.streams
                        .iter()
                        .all(|st| st.offset + s.image_len <= data.len())
            });
            // A calendar SLO's events since its period start are not in the image: it
            // backfills cold, so its period budget is whole.
            let calendar = self.streams.slos[self.queries[q].slo].calendar.is_some();
            let Some(s) = fits.filter(|_| !calendar) else {
                cold.push(key);
                continue;
            };
            let slo = self.queries[q].slo;
            let group = self.streams.slos[slo].group;
            self.streams.groups[group].core.store.start_at(s.clock);
            for st in &s.streams {
                let sref = self.streams.stream(slo, &st.region);
                let core = &mut self.streams.groups[group].core;
                core.store
                    .restore(sref.id, &data[st.offset..st.offset + s.image_len]);
                core.set_bits(sref.id, st.tier_bits, st.alert_bits);
            }
            let gaps: Vec<coverage::Gap> = s
                .gaps
                .iter()
                .map(|g| coverage::Gap {
                    id: 0,
                    query: q,
                    regions: g.regions.clone().map(|r| r.into_iter().collect()),
                    from: g.from,
                    to: g.to,
                    initial: g.initial,
                    attempts: 0,
                    next_try: now,
                    last_error: None,
                })
                .collect();
            self.coverage
                .restore(q, &s.cover, &gaps, header.saved_at, now);
            self.restored.insert(q);
            restored.push(key);
        }
        Ok((restored, cold))
    }
}
