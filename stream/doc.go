// Package stream brings frames to the engine: sources (camera, RTSP, video
// file, synthetic), pacing to the model's frame rate and smoothing of the
// predictions. It is the first stage of livetsm's pipeline:
// source → pacing → preprocess → onlinetsm.Stream.Step → smoothing → sink.
package stream
