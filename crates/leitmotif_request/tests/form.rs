//! Forms in a mood table: written as a line or a list, read back as written, refused with
//! their place in the file when malformed.

use leitmotif_request::form::{Form, FormError};
use leitmotif_request::{MoodError, MoodTable};

/// A one-mood table whose mood carries `extra`.
fn table(extra: &str) -> Result<MoodTable, MoodError> {
    MoodTable::from_ron(&format!(
        "(moods: {{\"calm\": (mode: major, tempo_bpm: 90, density: 0.5, register: 0.5,\n\
         intensity: 0.5, layers: [melody]{extra})}})"
    ))
}

#[test]
fn a_form_reads_as_a_line_or_a_list_and_writes_back() {
    let line = table(", form: \"A A' B A'' C A\"").unwrap_or_else(|e| panic!("{e}"));
    let list = table(", form: [\"A\", \"A'\", \"B\", \"A''\", \"C\", \"A\"]")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line, list);
    let form: Form = "A A' B A'' C A".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.moods["calm"].form, Some(form.clone()));
    assert_eq!(line.moods["calm"].form_or_default(), form);
    let text = ron::to_string(&line).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("form:\"A A"), "written as one line: {text}");
    assert_eq!(MoodTable::from_ron(&text).ok(), Some(line));
    // No form: the default, and nothing written.
    let plain = table("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain.moods["calm"].form, None);
    assert_eq!(plain.moods["calm"].form_or_default(), Form::default());
    let text = ron::to_string(&plain).unwrap_or_else(|e| panic!("{e}"));
    assert!(!text.contains("form"), "{text}");
    // The shipped table reads, forms and all.
    assert!(MoodTable::default_table().is_ok());
}

#[test]
fn a_malformed_form_is_refused_where_it_stands() {
    let e = table(", form: \"A B D\"").err();
    let Some(MoodError::Rule { line, reason, .. }) = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*line, 2);
    assert_eq!(
        reason,
        &format!(
            "form: {}",
            FormError::OutOfOrder {
                found: 'D',
                expected: 'C',
                position: 3
            }
        )
    );
    let e = table(", form: 4")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("invalid mood table"), "{e}");
}
