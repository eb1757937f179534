// The glTF loader the 3D viewer will use. The processing pipeline writes
// meshopt-compressed GLB (EXT_meshopt_compression), so every loader must have
// the decoder; this module is the one place that wires it, so the viewer and
// the tests agree. The decoder comes from the `meshoptimizer` package, the same
// project as the encoder, and carries its WebAssembly inline (no extra fetch).

import { MeshoptDecoder } from "meshoptimizer/decoder";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

export { MeshoptDecoder };

/** A three.js GLTFLoader that can read meshopt-compressed buffers. */
export function createGLTFLoader() {
  return new GLTFLoader().setMeshoptDecoder(MeshoptDecoder);
}
