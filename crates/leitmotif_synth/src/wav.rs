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
    if audio.sample_rate == 0 {
        return Err(SynthError::Invalid {
            what: "sample rate",
            reason: "0 Hz cannot be written to a WAV file".to_owned(),
        });
    }
    let bytes = audio.frames.len() as u64 * 4 + 44;
    if bytes > u64::from(u32::MAX) {
        return Err(SynthError::Invalid {
            what: "audio",
            reason: format!("{bytes} bytes is more than a WAV file can hold"),
        });
    }
    let spec = hound::WavSpec {
        channels: 2,
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
            let mut samples = writer.get_i16_writer(chunk.len() as u32 * 2);
            for frame in chunk {
                for &sample in frame {
                    samples.write_sample(quantize(sample, &mut noise));
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
