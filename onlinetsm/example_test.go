package onlinetsm_test

import (
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/livetsm/livetsm/onlinetsm"
)

// The three calls: Load, NewStream, Step — here on the parity fixture, with
// frames made from images by the default preprocessing.
func Example() {
	m, err := onlinetsm.Load("testdata/tsm_w035.pth", onlinetsm.WithInputSize(160))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s := m.NewStream()
	pre := m.Preprocessor()
	for i := 0; i < 3; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for x := 0; x < 320; x++ {
			img.Set(x, 100+10*i, color.RGBA{200, 180, 160, 255})
		}
		frame, err := pre.Frame(img)
		if err != nil {
			log.Fatal(err)
		}
		logits, err := s.Step(frame)
		if err != nil {
			log.Fatal(err)
		}
		top := m.Top(logits, 1)[0]
		fmt.Printf("frame %d: %d scores, best is one of the %d classes: %t\n", i, len(logits), m.Classes(), top.Index < m.Classes())
	}
	// Output:
	// frame 0: 27 scores, best is one of the 27 classes: true
	// frame 1: 27 scores, best is one of the 27 classes: true
	// frame 2: 27 scores, best is one of the 27 classes: true
}

// NewRandom builds the published configuration with random weights, for
// benchmarks; CacheShapes shows the per-block shift state it carries.
func ExampleNewRandom() {
	m, err := onlinetsm.NewRandom(1.0, 27, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.CacheShapes())
	// Output: [(3,56,56) (4,28,28) (4,28,28) (8,14,14) (8,14,14) (8,14,14) (12,14,14) (12,14,14) (20,7,7) (20,7,7)]
}
