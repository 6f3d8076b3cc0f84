// Package crosseval is an evaluation of livetsm's gesture models that their
// training never sees: a second renderer of hand-gesture clips over real
// photographs, a clip plan, the scoring of what a user is shown, and a
// per-class confusion report.
//
// # Independence
//
// The renderer is written separately from the training generator
// (stream/synth) and shares no code with it: the hand is a set of polygons
// (an arm, a palm, a thumb and four fingers whose phalanges foreshorten as
// they curl), filled with an anti-aliased scanline rasteriser and shaded
// with a light gradient, outlines between the parts and a cast shadow; the
// motions have their own easing curves, durations (0.4–1.2 s), wrist tilts,
// arcs and idle tremor. Only the class names and their meaning are shared,
// because the model is scored on them.
//
// The backgrounds are photographs found at run time in the sample images of
// scikit-image (Debian's python3-skimage) and of OpenCV (Debian's
// opencv-doc); see PhotoDirs. They are never committed, and they are
// reserved for evaluation: no model that is scored here may be trained on
// them.
//
// # Conventions
//
// Frames are raw, unmirrored camera frames; directions are the person's, as
// in Jester and in stream/synth: "Swiping Left" moves the hand toward the
// image's right (+x), "Swiping Right" toward its left, "Swiping Up" toward
// its top (−y), "Swiping Down" toward its bottom; "Zooming In With Full
// Hand" brings the hand closer (it grows and opens), "Zooming Out With Full
// Hand" takes it away (it shrinks and closes); "Turning Hand Clockwise" is
// clockwise as the person sees their hand, so counterclockwise in the raw
// image. The two gestures of a pair start and end in poses drawn from the
// same distributions. "No gesture" is a resting hand (with tremor and slow
// drift), a hand whose fingers fidget in place, or an empty scene.
//
// Every clip is a rest, one motion and a rest: Plan.MotionStart and
// Plan.MotionEnd give the motion's frames.
//
// # Scoring
//
// A clip is scored by the labels a user is shown while it plays (the
// terminal's label for a video file, the page's #label for the browser), as
// a sequence of Shown values. The clip's answer is the first label other
// than "No gesture" that is on display at any time from the start of the
// motion to the end of the clip — counting a label already on display when
// the motion starts — or "No gesture" when only "No gesture" is shown then
// (see Answer). A gesture clip is right when its answer is its gesture; a
// "No gesture" clip is right when no gesture is shown. Labels shown before
// the motion (a fresh stream's first frames, for one) do not count toward
// the answer; Result.Early records them.
//
// Everything is deterministic given the Config and the photographs found:
// the same seed renders the same pixels.
package crosseval
