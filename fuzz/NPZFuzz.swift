// libFuzzer target for the .npz reader (Sources/Datasets NPZ and NPY, over Storage's ZipArchive and zlib's raw
// inflate). Build and run with `scripts/fuzz npz`.
//
// Each input is read as an .npz file, as the one stored .npy entry of an .npz file, and as a raw deflate stream (the
// last two reach NPY's header parser and zlib past the ZIP layer's CRC-32). Any input must either be refused with one of the readers' errors (one line) or decode to arrays that survive a
// round trip: encode (stored, as np.savez) then decode gives the same arrays, and encoding those gives the same bytes.
// A trap, an out-of-bounds access (AddressSanitizer) or a leak is a finding.
import Datasets
import Storage

@_cdecl("LLVMFuzzerTestOneInput")
public func npzFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkNPZ(bytes)
    checkNPZ(ZipArchive.stored([("x.npy", bytes)]))
    _ = try? Gzip.inflateRaw(bytes[...], expectedSize: 4 * bytes.count, source: "fuzz-deflate")
    return 0
}

private func checkNPZ(_ bytes: [UInt8]) {
    let arrays: [String: NPYArray]
    do {
        arrays = try NPZ.decode(bytes, source: "fuzz")
    } catch {
        let message: String
        switch error {
        case let error as ZipError: message = error.description
        case let error as NPYError: message = error.description
        case let error as DatasetError: message = error.description
        default: fatalError("unexpected error type: \(error)")
        }
        if message.contains("\n") { fatalError("a message spans lines: \(message)") }
        return
    }
    guard !arrays.keys.contains("") else { return }  // an entry named ".npy": readable, but encode refuses empty keys
    let encoded = NPZ.encode(arrays)
    guard let again = try? NPZ.decode(encoded, source: "fuzz-roundtrip") else { fatalError("the encoding of accepted arrays is refused") }
    // Compared as bytes: NaN elements are not equal to themselves.
    guard Set(again.keys) == Set(arrays.keys), NPZ.encode(again) == encoded else { fatalError("round trip changed the arrays") }
}
