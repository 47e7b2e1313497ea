// libFuzzer target for the PyTorch state-dict reader (Sources/Storage: ZipArchive, the restricted unpickler,
// StateDict). Build and run with `scripts/fuzz statedict`.
//
// Each input is read three ways: as a file (StateDict.read recognises safetensors, a PyTorch zip archive or a legacy
// pickle stream); as a ZIP archive whose entries are all read and written again; and as the data.pkl of a zip
// checkpoint, so that mutated pickles reach the unpickler without having to match a CRC-32. Every refusal must be
// one of the readers' error types with a one-line message; an accepted state dict's tensors must fill their shapes.
// A trap, an out-of-bounds access (AddressSanitizer) or a leak is a finding.
import Storage

private func oneLineRefusal(_ error: Error) {
    let message: String
    switch error {
    case let error as StateDictError: message = error.description
    case let error as ZipError: message = error.description
    case let error as SafeTensorsError: message = error.description
    default: fatalError("unexpected error type: \(error)")
    }
    if message.contains("\n") { fatalError("a message spans lines: \(message)") }
}

private func checkTensors(_ tensors: [String: SafeTensorsEntry]) {
    for (name, entry) in tensors {
        let count = entry.shape.reduce(1) { $0 * $1 }
        if entry.bytes.count != count * entry.dtype.byteSize { fatalError("\(name): \(entry.bytes.count) bytes for shape \(entry.shape)") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func stateDictFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do { checkTensors(try StateDict.read(bytes: bytes, source: "fuzz")) } catch { oneLineRefusal(error) }

    do {
        let archive = try ZipArchive(bytes: bytes, source: "fuzz")
        var files: [(name: String, bytes: [UInt8])] = []
        for entry in archive.entries {
            guard let contents = try? archive.contents(of: entry.name) else { continue }
            files.append((entry.name, contents))
        }
        let again = try ZipArchive(bytes: ZipArchive.stored(files), source: "fuzz-roundtrip")
        guard again.entries.map(\.name) == files.map(\.name) else { fatalError("zip round trip changed the names") }
        for file in files where (try? again.contents(of: file.name)) != file.bytes { fatalError("zip round trip changed \(file.name)") }
    } catch {
        oneLineRefusal(error)
    }

    let zipped = ZipArchive.stored([("archive/data.pkl", bytes), ("archive/data/0", Array(bytes.prefix(64)))])
    do { checkTensors(try StateDict.read(bytes: zipped, source: "fuzz-zipped")) } catch { oneLineRefusal(error) }
    return 0
}
