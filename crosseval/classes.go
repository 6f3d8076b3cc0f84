package crosseval

import "slices"

// Class indices, in the order of Labels.
const (
	SwipingLeft = iota
	SwipingRight
	SwipingUp
	SwipingDown
	ZoomingIn
	ZoomingOut
	TurningClockwise
	TurningCounterclockwise
	NoGesture
	// NumClasses is the number of gesture classes.
	NumClasses
)

// NoGestureLabel is the name of the reject class.
const NoGestureLabel = "No gesture"

// Labels returns the nine gesture names (Jester's), in class-index order.
func Labels() []string {
	return []string{
		"Swiping Left",
		"Swiping Right",
		"Swiping Up",
		"Swiping Down",
		"Zooming In With Full Hand",
		"Zooming Out With Full Hand",
		"Turning Hand Clockwise",
		"Turning Hand Counterclockwise",
		NoGestureLabel,
	}
}

// ClassIndex returns the class index of a gesture name, or −1.
func ClassIndex(name string) int { return slices.Index(Labels(), name) }
