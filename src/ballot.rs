//! Ballot decisions: from box scores to an answer per question, and from answers to the
//! ballot's status with machine-readable reasons (documented in the README).
//!
//! The rule that matters most: a mark the scanner is unsure of is never guessed. Any
//! ambiguous box that could change a question's answer sends the ballot to review.

use crate::form::{Form, QuestionKind};
use crate::marks::{BoxScore, MarkState, Thresholds};
use crate::reason::Reason;

/// Above this a box is heavily inked: next to another mark on a single-choice question it may
/// be a crossed-out answer (people black out the box they regret, and a scan's blur or a
/// copier's haze leaves a blacked-out box at 0.6–0.8), so a person decides rather than `MULTI`
/// voiding the question. Two blacked-out boxes are no clearer.
const SOLID_FILL: f64 = 0.5;
/// A box whose inside is more than this much covered by a streak or fold is not judged.
const MAX_MASKED_SHARE: f64 = 0.5;
/// A box this solidly inked against both its own surroundings and the lightest paper nearby
/// is a mark even where the surroundings cannot be used as paper (a blacked-out box spilling
/// over its border). A copier's dark toner blotch over a box and its ring scores 0.6–0.7: not
/// solid, so a person looks.
const SURE_MARK_FILL: f64 = 0.85;
/// `MULTI` voids a question without a person, so each of its marks must stand clearly above
/// the row: at least twice the default marked threshold (0.06) — a fold's shadow or a toner
/// band that slipped past the paper model leaves boxes at 0.06–0.11 —
const CLEAR_MARK_FILL: f64 = 0.12;
/// — and at least this share of the row's strongest mark: one strong mark beside weak marks
/// that look alike is a mark on shaded paper, not two votes.
const CLEAR_MARK_SHARE: f64 = 0.3;
/// A mark this weak whose ink stays within `SPECK_SPAN_MM` is a speck — a dot of toner, a pen
/// resting on the paper — not a tick: a person decides. Every tick, cross and line made on
/// purpose spans at least 4 mm of the 5 mm inside (3,000 synth pages and the independent
/// corpus, BENCHMARKS.md); weak specks span 1–3.5 mm. A tick made off-centre leaves little
/// ink inside but crosses the ring around the box, so it is not taken for a speck.
const SPECK_FILL: f64 = 0.10;
const SPECK_SPAN_MM: f64 = 3.5;
/// Paper around a box that changes sharply (ring step above half of what makes the
/// surroundings unusable: a toner band as wide as the box, a shadow's edge) may be misread
/// inside the box by that much, and a copier's mottling under a band scores like a light tick
/// (0.08–0.15, independent corpus seed 92). A mark there counts without a person only when it
/// is stronger than shading makes it, or when its ink reaches into the ring (the step is then
/// the pen's own, as for an off-centre tick). Costs 2 of 1,264 definite marks on the
/// independent corpus (seeds 91, 92).
const SHADED_RING_STEP: f64 = 0.075;
const SHADED_MARK_FILL: f64 = 0.2;
/// A question read blank must not rest on a box that stands out from its row: a light stroke
/// a 1-bit scanner thinned to a trace scores 0.02–0.03, its row's other boxes 0.000. Such a
/// trace at `FAINT_TRACE_FILL` or above and `FAINT_TRACE_RATIO` times the row's next box
/// goes to a person, so a vote never silently becomes a non-vote.
const FAINT_TRACE_FILL: f64 = 0.02;
const FAINT_TRACE_RATIO: f64 = 3.0;

/// What became of one page, as ballots.csv's `status` column says it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Status {
    /// Read, every answer decided: its answers count.
    Counted,
    /// Read, but with nothing to count (a blank ballot, no countable answer).
    Invalid,
    /// Read, with something a person must decide before it counts (see its reasons).
    Review,
    /// Not counted: not readable as a ballot (an unreadable file, no QR code, no alignment, an
    /// unknown form), or refused (a voided serial, an auditor's `REJECT`).
    Rejected,
    /// A later copy of a ballot (same file, or same unit and serial with the same answers):
    /// counted once, at its first copy.
    Duplicate,
    /// Set by `tally` only: a page the scanner could not read (no QR code, no alignment) whose
    /// unit, serial and answers an auditor keyed in from the image (a `KEYED` decision).
    /// Counted like [`Status::Counted`].
    Keyed,
}

impl Status {
    /// The word ballots.csv and the reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Counted => "counted",
            Status::Invalid => "invalid",
            Status::Review => "review",
            Status::Rejected => "rejected",
            Status::Duplicate => "duplicate",
            Status::Keyed => "keyed",
        }
    }

    /// The status named by its ballots.csv word ([`Status::as_str`]).
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Counted,
            Status::Invalid,
            Status::Review,
            Status::Rejected,
            Status::Duplicate,
            Status::Keyed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether the ballot's answers go into the tallies and rates: read and counted, or keyed
    /// by an auditor. The one rule every count uses.
    pub fn is_counted(self) -> bool {
        matches!(self, Status::Counted | Status::Keyed)
    }

    /// Whether the ballot waits for a person before it can count (its unclear answers are
    /// tallied as `REVIEW`): `review`, which covers undecided photocopies too.
    pub fn waits_for_decision(self) -> bool {
        self == Status::Review
    }
}

/// A question's verdict.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Answer {
    /// The chosen option ids (one for a single-choice question, any number for multi).
    Chosen(Vec<String>),
    /// Nothing marked.
    Blank,
    /// More than one box marked on a single-choice question: spoils that question only.
    Multi,
    /// A box the scanner could not call (faint, corrected): a person decides.
    Review,
    /// A writing area (`text` question) with something written in it: its image is in
    /// `comments/` for a person to read. Never counted.
    Written,
    /// A writing area left blank.
    Empty,
    /// A writing area whose paper could not be judged (too dark, off the scan).
    Unreadable,
}

impl Answer {
    /// As written in the CSVs: option ids joined by `;`, or BLANK / MULTI / REVIEW.
    pub fn to_text(&self) -> String {
        match self {
            Answer::Chosen(ids) => ids.join(";"),
            Answer::Blank => "BLANK".into(),
            Answer::Multi => "MULTI".into(),
            Answer::Review => "REVIEW".into(),
            Answer::Written => "WRITTEN".into(),
            Answer::Empty => "EMPTY".into(),
            Answer::Unreadable => "UNREADABLE".into(),
        }
    }

    /// The answer as written in the CSVs ([`Answer::to_text`]); anything not a keyword is option ids.
    pub fn from_text(s: &str) -> Answer {
        match s {
            "BLANK" => Answer::Blank,
            "MULTI" => Answer::Multi,
            "REVIEW" => Answer::Review,
            "WRITTEN" => Answer::Written,
            "EMPTY" => Answer::Empty,
            "UNREADABLE" => Answer::Unreadable,
            _ => Answer::Chosen(s.split(';').map(str::to_string).collect()),
        }
    }

    /// A choice that goes into the tallies (not blank, spoiled, undecided or a comment).
    pub fn is_countable(&self) -> bool {
        matches!(self, Answer::Chosen(_))
    }

    /// A writing area's verdict: says only whether there is a comment to read.
    pub fn is_comment(&self) -> bool {
        matches!(self, Answer::Written | Answer::Empty | Answer::Unreadable)
    }
}

/// One box as read.
#[derive(Clone, Debug)]
pub struct BoxRead {
    /// The option id printed beside the box.
    pub option: String,
    /// Its fill and where it was found.
    pub score: BoxScore,
    /// Its fill called against the thresholds.
    pub state: MarkState,
}

/// One question as read: its verdict and the boxes it was decided from.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct QuestionRead {
    /// The question id from the form.
    pub question: String,
    /// The verdict.
    pub answer: Answer,
    /// Every box of the question, in the form's order (for answers.csv and review images).
    #[serde(skip)]
    pub boxes: Vec<BoxRead>,
    /// Why the answer is REVIEW, when it is.
    #[serde(skip)]
    pub review_reason: Option<Reason>,
}

/// Decides one question from its boxes' states.
pub fn decide_question(kind: QuestionKind, boxes: &[BoxRead]) -> (Answer, Option<Reason>) {
    let marked: Vec<&BoxRead> = boxes
        .iter()
        .filter(|b| b.state == MarkState::Marked)
        .collect();
    if boxes.iter().any(|b| b.state == MarkState::Ambiguous) {
        return (Answer::Review, Some(Reason::AmbiguousMark));
    }
    match kind {
        QuestionKind::Multi => {
            if marked.is_empty() {
                (Answer::Blank, None)
            } else {
                (
                    Answer::Chosen(marked.iter().map(|b| b.option.clone()).collect()),
                    None,
                )
            }
        }
        // A writing area has no boxes; its verdict comes from crate::comments.
        QuestionKind::Text => (Answer::Empty, None),
        QuestionKind::Single => match marked.len() {
            0 => (Answer::Blank, None),
            1 => (Answer::Chosen(vec![marked[0].option.clone()]), None),
            _ => {
                let solid = marked
                    .iter()
                    .filter(|b| b.score.fill.0 >= SOLID_FILL)
                    .count();
                if solid > 0 {
                    return (Answer::Review, Some(Reason::PossibleCorrection));
                }
                let strongest = marked.iter().map(|b| b.score.fill.0).fold(0.0, f64::max);
                let all_clear = marked
                    .iter()
                    .all(|b| b.score.fill.0 >= CLEAR_MARK_FILL.max(CLEAR_MARK_SHARE * strongest));
                // Every box of a row of three or more marked alike is a shaded row, not a
                // citizen's choice; a person looks.
                let whole_row = boxes.len() >= 3 && marked.len() == boxes.len();
                if all_clear && !whole_row {
                    (Answer::Multi, None)
                } else {
                    (Answer::Review, Some(Reason::BackgroundInRow))
                }
            }
        },
    }
}

/// Reads every question of a ballot from its box scores (in layout order).
pub fn read_questions(
    form: &Form,
    scores: &[(String, String, BoxScore)],
    thresholds: &Thresholds,
) -> Vec<QuestionRead> {
    form.questions
        .iter()
        .map(|q| {
            let mut boxes: Vec<BoxRead> = scores
                .iter()
                .filter(|(qid, _, _)| *qid == q.id)
                .map(|(_, opt, s)| BoxRead {
                    option: opt.clone(),
                    score: *s,
                    state: box_state(s, thresholds),
                })
                .collect();
            count_circled(&mut boxes);
            doubt_faint_trace(&mut boxes);
            let (answer, review_reason) = decide_question(q.kind, &boxes);
            QuestionRead {
                question: q.id.clone(),
                answer,
                boxes,
                review_reason,
            }
        })
        .collect()
}

/// One box's state from its score and surroundings.
fn box_state(s: &BoxScore, thresholds: &Thresholds) -> MarkState {
    // Most of the box hidden behind a streak or fold, or paper around it too dark or uneven
    // to compare ink with: nobody can say — unless the box is solid ink either way.
    if s.masked_share > MAX_MASKED_SHARE {
        return MarkState::Ambiguous;
    }
    if s.surroundings_unusable() {
        return if s.fill.0.min(s.window_fill.0) >= SURE_MARK_FILL {
            MarkState::Marked
        } else {
            MarkState::Ambiguous
        };
    }
    match thresholds.classify(s.fill) {
        MarkState::Empty if s.stroke_beside() => MarkState::Ambiguous,
        MarkState::Marked
            if s.fill.0 < SPECK_FILL && s.ink_span_mm < SPECK_SPAN_MM && !s.stroke_beside() =>
        {
            MarkState::Ambiguous
        }
        MarkState::Marked
            if s.ring_step > SHADED_RING_STEP
                && s.fill.0 < SHADED_MARK_FILL
                && !s.stroke_beside() =>
        {
            MarkState::Ambiguous
        }
        state => state,
    }
}

/// A box circled instead of marked inside is a vote, as a person reads it — but only when it
/// is the row's one circle and every other box of the row is plainly empty, with clean paper
/// around it. A circle beside a tick, or in a row whose paper is shaded or speckled, stays
/// ambiguous: a person decides.
fn count_circled(boxes: &mut [BoxRead]) {
    let circled: Vec<usize> = (0..boxes.len())
        .filter(|&i| boxes[i].score.circled && boxes[i].state == MarkState::Ambiguous)
        .collect();
    let [only] = circled[..] else {
        return;
    };
    let rest_plainly_empty = boxes.iter().enumerate().all(|(i, b)| {
        i == only
            || (b.state == MarkState::Empty
                && !b.score.circled
                && !b.score.stroke_beside()
                && !b.score.surroundings_unusable())
    });
    if rest_plainly_empty && boxes[only].score.masked_share <= MAX_MASKED_SHARE {
        boxes[only].state = MarkState::Marked;
    }
}

/// In a row read as all empty, a box that stands clearly out of the row is a faint trace of a
/// mark, not paper: it becomes ambiguous (see `FAINT_TRACE_FILL`).
fn doubt_faint_trace(boxes: &mut [BoxRead]) {
    if boxes.iter().any(|b| b.state != MarkState::Empty) {
        return;
    }
    let fill = |i: usize| boxes[i].score.fill.0;
    let Some(top) = (0..boxes.len()).max_by(|&a, &b| fill(a).total_cmp(&fill(b))) else {
        return;
    };
    let next = (0..boxes.len())
        .filter(|&i| i != top)
        .map(fill)
        .fold(0.0, f64::max);
    if fill(top) >= FAINT_TRACE_FILL && fill(top) >= FAINT_TRACE_RATIO * next {
        boxes[top].state = MarkState::Ambiguous;
    }
}

/// The status of a readable ballot, with its reasons, before duplicates are considered.
pub fn decide_ballot(
    form: &Form,
    questions: &[QuestionRead],
    poor_alignment: bool,
    unknown_unit: bool,
) -> (Status, Vec<Reason>) {
    let mut reasons: Vec<Reason> = Vec::new();
    fn push(reasons: &mut Vec<Reason>, r: Reason) {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    for q in questions {
        if let Some(r) = q.review_reason {
            push(&mut reasons, r);
        }
    }
    if poor_alignment {
        push(&mut reasons, Reason::PoorAlignment);
    }
    if unknown_unit {
        push(&mut reasons, Reason::UnknownUnit);
    }
    let needs_review = !reasons.is_empty();
    if questions.iter().any(|q| q.answer == Answer::Multi) {
        push(&mut reasons, Reason::MultiMark);
    }
    let countable = questions.iter().filter(|q| q.answer.is_countable()).count();
    if needs_review {
        return (Status::Review, reasons);
    }
    if countable < form.rules.min_answered.max(1) {
        // A comment alone does not make a ballot: a blank ballot with a comment is blank.
        let why = if questions
            .iter()
            .all(|q| q.answer == Answer::Blank || q.answer.is_comment())
        {
            Reason::BlankBallot
        } else {
            Reason::NoCountableAnswer
        };
        push(&mut reasons, why);
        return (Status::Invalid, reasons);
    }
    (Status::Counted, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marks::Fill;

    fn b(option: &str, fill: f64) -> BoxRead {
        let t = Thresholds::default();
        BoxRead {
            option: option.into(),
            score: BoxScore::as_recorded(Fill(fill)),
            state: t.classify(Fill(fill)),
        }
    }

    /// A box as scored on a page: its fill, how far its ink reaches, and no stroke around it.
    fn scored(option: &str, fill: f64, span_mm: f64) -> (String, String, BoxScore) {
        let mut s = BoxScore::as_recorded(Fill(fill));
        s.ink_span_mm = span_mm;
        ("q1".into(), option.into(), s)
    }

    fn read_q1(boxes: &[(String, String, BoxScore)]) -> (Answer, Option<Reason>) {
        let form = Form::default_form();
        let q = read_questions(&form, boxes, &Thresholds::default())
            .into_iter()
            .next()
            .expect("q1");
        (q.answer, q.review_reason)
    }

    /// A box circled by the citizen: empty inside, a pen line all around it in the ring.
    fn circled(option: &str) -> (String, String, BoxScore) {
        let (q, o, mut s) = scored(option, 0.0, 0.0);
        s.ring_stroke = 0.4;
        s.ring_dark = 0.7;
        s.circled = true;
        (q, o, s)
    }

    #[test]
    fn a_circled_box_in_an_otherwise_empty_row_is_the_answer_and_anything_else_goes_to_a_person() {
        let empty = |o: &str| scored(o, 0.0, 0.0);
        assert_eq!(
            read_q1(&[empty("1"), circled("2"), empty("3"), empty("4"), empty("5")]),
            (Answer::Chosen(vec!["2".into()]), None)
        );
        // A circle and a tick: which did the citizen mean? A person decides.
        let tick = scored("4", 0.2, 7.0);
        assert_eq!(
            read_q1(&[empty("1"), circled("2"), empty("3"), tick, empty("5")]).0,
            Answer::Review
        );
        // Two circles, or a circle in a row whose other paper is shaded: a person decides.
        assert_eq!(
            read_q1(&[
                empty("1"),
                circled("2"),
                circled("3"),
                empty("4"),
                empty("5")
            ])
            .0,
            Answer::Review
        );
        let mut shaded = empty("5");
        shaded.2.ring_dark = 0.7;
        assert_eq!(
            read_q1(&[empty("1"), circled("2"), empty("3"), empty("4"), shaded]).0,
            Answer::Review
        );
        // The same ring without a closed line is a stroke beside an empty box: a person looks.
        let mut stroke = circled("2");
        stroke.2.circled = false;
        assert_eq!(
            read_q1(&[empty("1"), stroke, empty("3"), empty("4"), empty("5")]).0,
            Answer::Review
        );
    }

    #[test]
    fn a_weak_speck_goes_to_a_person_and_a_weak_line_counts() {
        // As in the synth corpus: a 1.3 mm speck scoring 0.066 alone on a question was read as
        // the answer on a counted ballot.
        let speck = [scored("1", 0.0, 0.0), scored("5", 0.066, 1.6)];
        assert_eq!(
            read_q1(&speck),
            (Answer::Review, Some(Reason::AmbiguousMark))
        );
        // The same ink spread across the box is a light stroke: a vote.
        let line = [scored("1", 0.0, 0.0), scored("5", 0.066, 6.2)];
        assert_eq!(read_q1(&line).0, Answer::Chosen(vec!["5".into()]));
        // A firm mark is a mark whatever its size.
        let firm = [scored("1", 0.0, 0.0), scored("5", 0.2, 2.0)];
        assert_eq!(read_q1(&firm).0, Answer::Chosen(vec!["5".into()]));
        // A speck with a stroke crossing the ring is a tick made off-centre: a vote.
        let mut off = scored("5", 0.07, 2.5);
        off.2.ring_stroke = 0.3;
        assert_eq!(
            read_q1(&[scored("1", 0.0, 0.0), off]).0,
            Answer::Chosen(vec!["5".into()])
        );
    }

    #[test]
    fn a_light_mark_where_the_paper_around_changes_sharply_goes_to_a_person() {
        // As in the independent corpus (seed 92, photocopy): a toner band as wide as the box
        // column, the copier's mottling under it scoring 0.142 beside the citizen's tick — read
        // as a second mark, the question would be MULTI and the vote lost without a person.
        let tick = scored("1", 0.229, 6.7);
        let banded = |fill: f64| {
            let mut s = scored("5", fill, 6.7);
            s.2.ring_step = 0.128;
            s
        };
        let empty = |o: &str| scored(o, 0.0, 0.0);
        let row = |last| [tick.clone(), empty("2"), empty("3"), empty("4"), last];
        assert_eq!(
            read_q1(&row(banded(0.142))),
            (Answer::Review, Some(Reason::AmbiguousMark))
        );
        // On a band alone, a light mark is not taken for the answer either.
        assert_eq!(read_q1(&[empty("1"), banded(0.142)]).0, Answer::Review);
        // A mark stronger than shading makes is a mark wherever it is.
        assert_eq!(read_q1(&row(banded(0.3))).0, Answer::Multi);
        // The same step made by the pen's own ink crossing the ring (an off-centre tick) is
        // the mark, not shading.
        let mut off = banded(0.142);
        off.2.ring_stroke = 0.3;
        assert_eq!(
            read_q1(&[empty("1"), off]).0,
            Answer::Chosen(vec!["5".into()])
        );
    }

    #[test]
    fn a_faint_trace_that_stands_out_of_a_blank_row_goes_to_a_person() {
        // As on a 1-bit scan: a cross thinned to a trace scoring 0.028, the row's other boxes
        // 0.000, was read BLANK on a counted ballot — a vote lost without a person.
        let trace = [
            scored("1", 0.028, 5.0),
            scored("2", 0.0, 0.0),
            scored("3", 0.0, 0.0),
        ];
        assert_eq!(
            read_q1(&trace),
            (Answer::Review, Some(Reason::AmbiguousMark))
        );
        // Paper noise alike over the row is blank.
        let noise = [
            scored("1", 0.028, 5.0),
            scored("2", 0.015, 5.0),
            scored("3", 0.01, 5.0),
        ];
        assert_eq!(read_q1(&noise).0, Answer::Blank);
        // So is a trace too faint to be anything.
        let clean = [scored("1", 0.012, 1.0), scored("2", 0.0, 0.0)];
        assert_eq!(read_q1(&clean).0, Answer::Blank);
        // Beside a vote, a trace in another box does not make the answer doubtful.
        let voted = [
            scored("1", 0.025, 5.0),
            scored("2", 0.3, 6.0),
            scored("3", 0.0, 0.0),
        ];
        assert_eq!(read_q1(&voted).0, Answer::Chosen(vec!["2".into()]));
    }

    #[test]
    fn single_choice_verdicts() {
        use QuestionKind::Single;
        assert_eq!(
            decide_question(Single, &[b("1", 0.0), b("2", 0.0)]).0,
            Answer::Blank
        );
        assert_eq!(
            decide_question(Single, &[b("1", 0.4), b("2", 0.0)]).0,
            Answer::Chosen(vec!["1".into()])
        );
        assert_eq!(
            decide_question(Single, &[b("1", 0.4), b("2", 0.3)]).0,
            Answer::Multi
        );
        assert_eq!(
            decide_question(Single, &[b("1", 0.95), b("2", 0.3)]),
            (Answer::Review, Some(Reason::PossibleCorrection))
        );
        assert_eq!(
            decide_question(Single, &[b("1", 0.4), b("2", 0.045)]),
            (Answer::Review, Some(Reason::AmbiguousMark))
        );
    }

    #[test]
    fn multi_rests_only_on_marks_that_stand_clearly_above_the_row() {
        use QuestionKind::Single;
        let row = |fills: &[f64]| -> Vec<BoxRead> {
            fills
                .iter()
                .enumerate()
                .map(|(i, &f)| b(&(i + 1).to_string(), f))
                .collect()
        };
        // A fold's shadow along the row: one real mark, the other boxes weak and alike.
        assert_eq!(
            decide_question(Single, &row(&[0.117, 0.329, 0.14, 0.133, 0.118])),
            (Answer::Review, Some(Reason::BackgroundInRow))
        );
        // A strong mark beside a weak one that is above the marked threshold.
        assert_eq!(
            decide_question(Single, &row(&[0.0, 0.45, 0.0, 0.08, 0.0])),
            (Answer::Review, Some(Reason::BackgroundInRow))
        );
        // Every box of the row marked alike: a shaded row.
        assert_eq!(
            decide_question(Single, &row(&[0.2, 0.24, 0.21, 0.22, 0.2])),
            (Answer::Review, Some(Reason::BackgroundInRow))
        );
        // Two clear marks on clean paper are a real over-marked question.
        assert_eq!(
            decide_question(Single, &row(&[0.0, 0.4, 0.0, 0.25, 0.0])).0,
            Answer::Multi
        );
        // Yes/no with both ticked.
        assert_eq!(decide_question(Single, &row(&[0.3, 0.2])).0, Answer::Multi);
        // A blacked-out box beside a tick, or two blacked-out boxes: a correction, maybe.
        for fills in [[0.0, 0.306, 0.593, 0.0, 0.0], [0.0, 0.99, 1.0, 0.0, 0.0]] {
            assert_eq!(
                decide_question(Single, &row(&fills)),
                (Answer::Review, Some(Reason::PossibleCorrection))
            );
        }
    }

    #[test]
    fn multi_choice_lists_every_mark() {
        let (a, _) = decide_question(
            QuestionKind::Multi,
            &[b("a", 0.4), b("b", 0.0), b("c", 0.9)],
        );
        assert_eq!(a, Answer::Chosen(vec!["a".into(), "c".into()]));
        assert_eq!(Answer::from_text(&a.to_text()), a);
    }
}
