"""TensorRT engine tools for the robot: build an engine from the shipped ONNX, check parity, benchmark."""
