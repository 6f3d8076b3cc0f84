// Package offline runs mmaction2's offline Temporal Shift Module (TSM)
// recognisers on recorded video, in pure Go: ResNet-50/101/152 TSM
// (ResNetTSM, shift_place 'blockres') and MobileNetV2 TSM, each with
// TSMHead (global average pool, fc, the mean of the segments' scores).
// Unlike the online model of package onlinetsm, which steps a stream one
// frame at a time with a shift cache, a Model sees a whole clip of N
// segments at once and shifts both ways: the first C/8 channels of a
// shifted block's input come from the next segment, the next C/8 from the
// previous one, zeros at the clip's ends.
//
// Classifying a video follows mmaction2's test pipeline:
//
//	m, err := offline.Load("tsm_r50_kinetics400.pth") // an mmaction2 checkpoint
//	// Which of the video's n frames the 8 segments see:
//	idx, err := offline.TSMTestSampling(8, false).Indices(n, nil)
//	// The frames decoded at idx, resized, cropped and normalised:
//	pre, err := offline.NewPreprocessor(offline.CropCenter)
//	views, err := pre.Clip(frames)
//	probs, err := m.ClassifyData(views, pre.OutSize(), pre.OutSize())
//	top := m.Top(probs, 5)
//
// Load reads the checkpoint formats onlinetsm.Load reads; the architecture,
// depth, widths, shifted blocks and class count come from the keys and
// shapes of mmaction2's layout (backbone.…, cls_head.fc_cls.…), and batch
// norms are folded into the convolutions at load time.
package offline
