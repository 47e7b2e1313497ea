// libFuzzer target for the gzip and IDX readers (Sources/Datasets). Build and run with `scripts/fuzz idx`.
//
// The input is treated as a file's contents, as `IDX.read(contentsOf:dimensionCount:)` does: gunzipped if it
// starts with 1f 8b, then decoded as IDX. Every input must either throw a DatasetError or decode to an array
// that encodes back to the same (decompressed) bytes. A trap, an ASan report or a leak is a finding.
import Datasets

@_cdecl("LLVMFuzzerTestOneInput")
public func idxFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let plain: [UInt8]
    do {
        plain = Gzip.isCompressed(bytes) ? try Gzip.decompress(bytes, source: "fuzz") : bytes
    } catch is DatasetError {
        return 0
    } catch {
        fatalError("unexpected error type from Gzip.decompress: \(error)")
    }
    // The first byte after the magic selects which dimension count the caller expects, as MNIST.load does.
    let expected: Int? = plain.count > 3 ? [nil, 1, 3][Int(plain[3] % 3)] : nil
    do {
        let array = try IDX.decode(plain, dimensionCount: expected, source: "fuzz")
        let encoded = try IDX.encode(array.values, dimensions: array.dimensions)
        guard encoded == plain else { fatalError("IDX round trip changed the bytes") }
        let recompressed = try Gzip.compress(encoded)
        guard try Gzip.decompress(recompressed) == encoded else { fatalError("gzip round trip changed the bytes") }
    } catch is DatasetError {
        return 0
    } catch {
        fatalError("unexpected error type from IDX.decode: \(error)")
    }
    return 0
}
