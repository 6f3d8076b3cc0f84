package synth_test

import (
	"fmt"
	"io"

	"github.com/livetsm/livetsm/stream/synth"
)

func ExampleGenerator_Clip() {
	g := synth.New(synth.Config{Width: 128, Height: 128, Seed: 1})
	c := g.Clip(synth.ClassIndex("Swiping Left"), 8)
	fmt.Println(c.Name, len(c.Frames), c.Frames[0].Rect.Dx(), c.Frames[0].Rect.Dy())
	// The clip can go to a .y4m file for Chromium's fake camera.
	if err := synth.WriteY4M(io.Discard, c.Frames, 15); err != nil {
		fmt.Println(err)
	}
	// Output: Swiping Left 8 128 128
}

func ExampleGenerator_Live() {
	l := synth.New(synth.Config{Width: 320, Height: 240, Seed: 1}).Live()
	for range 3 {
		img, name := l.Next()
		fmt.Println(img.Rect.Dx(), img.Rect.Dy(), name)
	}
	// Output:
	// 320 240 No gesture
	// 320 240 No gesture
	// 320 240 No gesture
}
