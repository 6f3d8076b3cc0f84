package crosseval

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Shown is a label put on display at a time, in seconds on the clip's
// clock (its first frame at 0). A sequence of Shown values, in time order,
// is what a user saw while the clip played.
type Shown struct {
	At    float64 `json:"t"`
	Label string  `json:"label"`
}

// Answer returns a clip's answer from the labels shown: the first label
// other than "No gesture" on display at any time in [from, to) — counting
// the one already on display at from — or "No gesture" when there is none.
// from is the start of the motion and to the end of the clip; labels shown
// at or after to are ignored. early is the first gesture label shown
// before from, or "".
func Answer(shown []Shown, from, to float64) (answer, early string) {
	answer, _, early = answerAt(shown, from, to)
	return answer, early
}

// answerAt is Answer, also returning when the answer went on display
// (from for one already on display then).
func answerAt(shown []Shown, from, to float64) (answer string, at float64, early string) {
	onDisplay := NoGestureLabel
	for _, s := range shown {
		if s.At >= to {
			break
		}
		if s.At < from {
			onDisplay = s.Label
			if early == "" && s.Label != NoGestureLabel {
				early = s.Label
			}
			continue
		}
		if onDisplay != NoGestureLabel {
			return onDisplay, from, early
		}
		if s.Label != NoGestureLabel {
			return s.Label, s.At, early
		}
	}
	if onDisplay != NoGestureLabel {
		return onDisplay, from, early
	}
	return NoGestureLabel, 0, early
}

// Changes keeps the entries of shown whose label differs from the one
// before: what a display that only redraws on change shows.
func Changes(shown []Shown) []Shown {
	var out []Shown
	for _, s := range shown {
		if len(out) == 0 || out[len(out)-1].Label != s.Label {
			out = append(out, s)
		}
	}
	return out
}

// Result is the outcome of one clip.
type Result struct {
	Plan Plan `json:"plan"`
	// Answer is the clip's answer (see Answer) and Right whether it is the
	// clip's label.
	Answer string `json:"answer"`
	Right  bool   `json:"right"`
	// Early is the first gesture shown before the motion began, if any.
	Early string `json:"early,omitempty"`
	// Delay is the time from the start of the motion to the answer's
	// display, in seconds (0 for "No gesture" or a label on display
	// before).
	Delay float64 `json:"delay_s"`
	// Shown lists the label changes the user saw.
	Shown []Shown `json:"shown"`
}

// Score scores a clip from the labels shown during it, on the clip's clock:
// the motion starts at plan.MotionStart / plan.FPS and the window ends
// with the clip.
func Score(plan Plan, shown []Shown) Result {
	from, to := float64(plan.MotionStart)/plan.FPS, plan.Seconds()
	return ScoreWindow(plan, shown, from, to)
}

// ScoreWindow is Score with the window [from, to) given on the clock of
// shown (for a clip that loops, as the page's camera does).
func ScoreWindow(plan Plan, shown []Shown, from, to float64) Result {
	changes := Changes(shown)
	ans, at, early := answerAt(changes, from, to)
	res := Result{Plan: plan, Answer: ans, Right: ans == plan.Label, Early: early, Shown: changes}
	if ans != NoGestureLabel {
		res.Delay = at - from
	}
	return res
}

// Report is the per-class confusion of a set of clips run one way.
type Report struct {
	// Name says how the clips were run, e.g. "H.264 through livetsm --video".
	Name string `json:"name"`
	// Labels are the classes (Labels), then "other" when some answer is
	// none of them (a model with more classes).
	Labels []string `json:"labels"`
	// Confusion counts clips by [true class][answer].
	Confusion [][]int  `json:"confusion"`
	Clips     int      `json:"clips"`
	Correct   int      `json:"correct"`
	Accuracy  float64  `json:"accuracy"`
	Early     int      `json:"early"` // clips with a gesture shown before their motion
	Results   []Result `json:"results"`
}

// NewReport returns an empty report.
func NewReport(name string) *Report {
	r := &Report{Name: name, Labels: Labels()}
	r.Confusion = make([][]int, NumClasses)
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, NumClasses)
	}
	return r
}

// Add counts one clip's result.
func (r *Report) Add(res Result) {
	col := slices.Index(r.Labels, res.Answer)
	if col < 0 {
		if len(r.Labels) == NumClasses {
			r.Labels = append(r.Labels, "other")
			for i := range r.Confusion {
				r.Confusion[i] = append(r.Confusion[i], 0)
			}
		}
		col = NumClasses
	}
	r.Confusion[res.Plan.Class][col]++
	r.Clips++
	if res.Right {
		r.Correct++
	}
	if res.Early != "" {
		r.Early++
	}
	r.Accuracy = float64(r.Correct) / float64(r.Clips)
	r.Results = append(r.Results, res)
}

// shortLabel abbreviates a class name for a column heading.
func shortLabel(l string) string {
	switch l {
	case "Zooming In With Full Hand":
		return "In"
	case "Zooming Out With Full Hand":
		return "Out"
	case "Turning Hand Clockwise":
		return "CW"
	case "Turning Hand Counterclockwise":
		return "CCW"
	case NoGestureLabel:
		return "None"
	}
	l = strings.TrimPrefix(l, "Swiping ")
	if len(l) > 5 {
		l = l[:5]
	}
	return l
}

// WriteText writes the report as a table: one row per true class, one
// column per answer, and each class's share of right answers.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d/%d clips right, accuracy %.1f%%", r.Name, r.Correct, r.Clips, 100*r.Accuracy)
	if r.Early > 0 {
		fmt.Fprintf(&b, " (a gesture was shown before the motion in %d)", r.Early)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-30s", "true \\ shown")
	for _, l := range r.Labels {
		fmt.Fprintf(&b, "%6s", shortLabel(l))
	}
	fmt.Fprintf(&b, "%8s\n", "right")
	for i := range NumClasses {
		fmt.Fprintf(&b, "%-30s", r.Labels[i])
		n := 0
		for _, v := range r.Confusion[i] {
			fmt.Fprintf(&b, "%6d", v)
			n += v
		}
		right := "-"
		if n > 0 {
			right = fmt.Sprintf("%d/%d", r.Confusion[i][i], n)
		}
		fmt.Fprintf(&b, "%8s\n", right)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
