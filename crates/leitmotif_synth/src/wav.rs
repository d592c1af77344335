//! 16-bit PCM WAV output through hound, written atomically.

use std::io::Cursor;
use std::path::Path;

use crate::dsp::Noise;
use crate::{Audio, SynthError};

/// 16-bit PCM stereo WAV bytes (hound), with triangular dither (exact digital silence
/// stays silent).
///
/// # Errors
/// [`SynthError::Invalid`] when the sample rate is 0 or the audio is too long for a WAV
/// file (4 GiB).
pub fn encode_wav(audio: &Audio) -> Result<Vec<u8>, SynthError> {
    encode(audio, 2)
}

/// 16-bit PCM mono WAV bytes: the two channels' mean, dithered as [`encode_wav`] does. Half
/// the size, for material whose stereo image does not matter (a listening test's clips).
///
/// # Errors
/// As [`encode_wav`].
pub fn encode_wav_mono(audio: &Audio) -> Result<Vec<u8>, SynthError> {
    encode(audio, 1)
}

/// [`encode_wav`] with `channels` 1 (mean of left and right) or 2.
fn encode(audio: &Audio, channels: u16) -> Result<Vec<u8>, SynthError> {
    if audio.sample_rate == 0 {
        return Err(SynthError::Invalid {
            what: "sample rate",
            reason: "0 Hz cannot be written to a WAV file".to_owned(),
        });
    }
    let bytes = audio.frames.len() as u64 * 2 * u64::from(channels) + 44;
    if bytes > u64::from(u32::MAX) {
        return Err(SynthError::Invalid {
            what: "audio",
            reason: format!("{bytes} bytes is more than a WAV file can hold"),
        });
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let fail = |e: hound::Error| SynthError::Invalid {
        what: "audio",
        reason: format!("WAV encoding failed: {e}"),
    };
    let mut cursor = Cursor::new(Vec::with_capacity(bytes as usize));
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).map_err(fail)?;
        let mut noise = Noise::new(0x5EED_D17E);
        // Through hound's fast 16-bit writer, a bounded number of samples at a time.
        for chunk in audio.frames.chunks(1 << 15) {
            let mut samples = writer.get_i16_writer(chunk.len() as u32 * u32::from(channels));
            for frame in chunk {
                if channels == 1 {
                    samples.write_sample(quantize(0.5 * (frame[0] + frame[1]), &mut noise));
                } else {
                    for &sample in frame {
                        samples.write_sample(quantize(sample, &mut noise));
                    }
                }
            }
            samples.flush().map_err(fail)?;
        }
        writer.finalize().map_err(fail)?;
    }
    Ok(cursor.into_inner())
}

/// One sample to 16 bits with triangular (TPDF) dither of ±1 LSB.
fn quantize(sample: f32, noise: &mut Noise) -> i16 {
    if sample == 0.0 || !sample.is_finite() {
        return 0;
    }
    let dither = noise.unit() - noise.unit();
    let scaled = (sample * 32_767.0 + dither).round();
    scaled.clamp(-32_768.0, 32_767.0) as i16
}

/// Writes `audio` to `path` atomically (temp file in the same dir, then rename); on error
/// nothing is left at `path` nor a temp file.
///
/// # Errors
/// [`SynthError::Wav`] naming `path` when it cannot be written; [`SynthError::Invalid`]
/// as [`encode_wav`].
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), SynthError> {
    let bytes = encode_wav(audio)?;
    leitmotif_score::files::write_atomic(path, &bytes).map_err(|e| SynthError::Wav {
        path: path.to_owned(),
        reason: match e {
            leitmotif_score::Error::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_holds_the_mean_of_the_channels_in_half_the_bytes() {
        let audio = Audio {
            sample_rate: 16_000,
            frames: (0..1600)
                .map(|i| {
                    let x = (i as f32 * 0.05).sin() * 0.5;
                    [x, x * 0.5]
                })
                .collect(),
        };
        let stereo = encode_wav(&audio).unwrap();
        let mono = encode_wav_mono(&audio).unwrap();
        assert_eq!(mono.len() - 44, (stereo.len() - 44) / 2);
        let reader = hound::WavReader::new(Cursor::new(mono)).unwrap();
        assert_eq!(reader.spec().channels, 1);
        assert_eq!(reader.spec().sample_rate, 16_000);
        let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        assert_eq!(samples.len(), 1600);
        for (s, f) in samples.iter().zip(&audio.frames) {
            let want = 0.5 * (f[0] + f[1]) * 32_767.0;
            assert!((f32::from(*s) - want).abs() <= 2.0, "{s} vs {want}");
        }
    }
}
