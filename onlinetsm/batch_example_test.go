package onlinetsm_test

import (
	"fmt"
	"log"
	"math"

	"github.com/livetsm/livetsm/onlinetsm"
)

// A Batch steps several streams together: one pass through the network for
// all of them, each stream keeping its own cache. The logits are those each
// stream would get alone (to float32 rounding).
func ExampleBatch_Step() {
	m, err := onlinetsm.NewRandom(0.35, 4, 1, onlinetsm.WithInputSize(64))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	streams := []*onlinetsm.Stream{m.NewStream(), m.NewStream(), m.NewStream()}
	batch := m.NewBatch(len(streams))
	frames := make([][]float32, len(streams))
	for i := range frames {
		frames[i] = make([]float32, 3*64*64)
		for j := range frames[i] {
			frames[i][j] = float32((i+1)*(j%7)) / 7
		}
	}
	for step := 0; step < 2; step++ {
		logits, err := batch.Step(streams, frames)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("step %d: %d streams, %d logits each\n", step, len(logits), len(logits[0]))
	}
	// Alone, the first stream's third frame gives the same logits, to
	// float32 rounding.
	solo := m.NewStream()
	var want []float32
	for step := 0; step < 3; step++ {
		want, _ = solo.StepData(frames[0])
	}
	got, _ := batch.Step(streams[:1], frames[:1])
	var diff, size float64
	for i := range want {
		diff = max(diff, math.Abs(float64(got[0][i]-want[i])))
		size = max(size, math.Abs(float64(want[i])))
	}
	fmt.Println("same as alone:", diff <= 1e-5*size)
	// Output:
	// step 0: 3 streams, 4 logits each
	// step 1: 3 streams, 4 logits each
	// same as alone: true
}
