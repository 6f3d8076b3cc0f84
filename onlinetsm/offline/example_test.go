package offline_test

import (
	"fmt"
	"image"
	"log"

	"github.com/livetsm/livetsm/onlinetsm/offline"
)

// An mmaction2 TSM checkpoint classifies a recorded clip: sample 8 frames,
// preprocess them as mmaction2's test pipeline, average the views' softmaxes.
func ExampleLoad() {
	m, err := offline.Load("testdata/r50.pth") // ResNet-50 layout, narrow, random weights
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m, "—", len(m.ShiftedBlocks()), "shifted blocks")

	// Which frames of a 300-frame video the 8 segments see.
	idx, err := offline.TSMTestSampling(8, false).Indices(300, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("frames", idx)

	// Decoded frames (here: flat grey 320×240 images) → normalised views.
	frames := make([]image.Image, len(idx))
	for i := range frames {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(10*i), 128, 200, 255
		}
		frames[i] = img
	}
	pre, err := offline.NewPreprocessor(offline.CropCenter)
	if err != nil {
		log.Fatal(err)
	}
	views, err := pre.Clip(frames)
	if err != nil {
		log.Fatal(err)
	}
	probs, err := m.ClassifyData(views, pre.OutSize(), pre.OutSize())
	if err != nil {
		log.Fatal(err)
	}
	top := m.Top(probs, 1)
	fmt.Println(len(views), "view of", len(views[0]), "frames;", len(probs), "probabilities; top class index in range:", top[0].Index < m.Classes())
	// Output:
	// ResNet-50 TSM (width 0.125), 10 classes — 16 shifted blocks
	// frames [18 56 93 131 168 206 243 281]
	// 1 view of 8 frames; 10 probabilities; top class index in range: true
}
