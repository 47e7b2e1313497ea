// libFuzzer target for the safetensors reader and the PNG tEXt reader (Sources/Storage). Build and run with `scripts/fuzz safetensors`.
//
// Any input must either be refused with a thrown SafeTensorsError or parse into an archive that survives a
// round trip: serialized() must parse again to an equal archive, and serializing that must give the same bytes.
// A trap, an out-of-bounds access (AddressSanitizer) or a leak is a finding.
import Storage

@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The PNG tEXt reader (Storage/PNGText.swift) reads sample sheets from run folders: it must never trap.
    _ = PNGText.entries(in: bytes)
    _ = PNGText.entries(in: PNGText.signature + bytes)
    let archive: SafeTensorsArchive
    do {
        archive = try SafeTensorsArchive(bytes: bytes, source: "fuzz")
    } catch is SafeTensorsError {
        return 0
    } catch {
        fatalError("unexpected error type: \(error)")
    }
    let serialized = archive.serialized()
    guard let again = try? SafeTensorsArchive(bytes: serialized, source: "fuzz-roundtrip") else {
        fatalError("the serialization of an accepted archive is refused")
    }
    guard again == archive, again.serialized() == serialized else {
        fatalError("round trip changed the archive")
    }
    _ = archive.tensorDataDigest()
    for (name, entry) in archive.entries {
        switch entry.dtype {
        case .f32: _ = try? archive.floats(name)
        case .f64: _ = try? archive.doubles(name)
        case .i64: _ = try? archive.int64s(name)
        default: break
        }
        _ = try? archive.shape(of: name)
    }
    return 0
}
