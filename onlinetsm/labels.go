package onlinetsm

import (
	_ "embed"
	"strings"
)

//go:embed labels/jester.txt
var jesterLabels string

// JesterLabels returns the 27 class names of the 20BN-Jester gesture data set
// in the index order of the published online TSM checkpoint
// (mobilenetv2_jester_online.pth.tar). The same list is the file
// onlinetsm/labels/jester.txt.
func JesterLabels() []string {
	return strings.Split(strings.TrimSpace(jesterLabels), "\n")
}
