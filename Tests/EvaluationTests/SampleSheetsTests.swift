import Autodiff
import Evaluation
import Imaging
import Models
import Plotting
import Testing
import TestSupport

@Suite struct SampleSheetsTests {
    static func model() throws -> any GenerativeModel {
        var g = SeededGenerator(seed: 6)
        return try ModelFactory.make(try ShippedStudy.configuration("vae_std_z20"), generator: &g)
    }

    static func images(_ count: Int) -> Tensor {
        var g = SeededGenerator(seed: 7)
        return Tensor(shape: [count, 784], data: (0..<(count * 784)).map { _ in g.nextUniform() })
    }

    static func tile(_ image: PixelImage, row: Int, column: Int, scale: Int = 1) -> [UInt8] {
        let origin = (x: scale * (1 + column * 29), y: scale * (1 + row * 29))
        return (0..<28).flatMap { y in (0..<28).map { x in image[x: origin.x + x * scale, y: origin.y + y * scale] } }
    }

    @Test func reconstructionsAlternateOriginalsAndReconstructions() throws {
        let model = try Self.model()
        let x = Self.images(32)
        let sheet = SampleSheets.reconstructions(model, images: x, pairs: 4, columns: 8)
        #expect(sheet.width == 8 * 29 + 1 && sheet.height == 8 * 29 + 1)
        let expectedOriginal = PixelImage.fromUnitFloats(Array(x.data[(9 * 784)..<(10 * 784)]), width: 28, height: 28).pixels
        #expect(Self.tile(sheet, row: 2, column: 1) == expectedOriginal)   // row pair 1, image 9
        let rebuilt = model.reconstruct(Tensor(shape: [1, 784], data: Array(x.data[(9 * 784)..<(10 * 784)])))
        #expect(Self.tile(sheet, row: 3, column: 1) == PixelImage.fromUnitFloats(rebuilt.data, width: 28, height: 28).pixels)
    }

    @Test func interpolationsStartAndEndAtTheEndpointsDecoded() throws {
        let model = try Self.model()
        let x = Self.images(4)
        let sheet = SampleSheets.interpolations(model, images: x, rows: 2, steps: 5, scale: 2)
        #expect(sheet.width == 2 * (5 * 29 + 1) && sheet.height == 2 * (2 * 29 + 1))
        let end = model.reconstruct(Tensor(shape: [1, 784], data: Array(x.data[(3 * 784)..<(4 * 784)])))
        #expect(Self.tile(sheet, row: 1, column: 4, scale: 2) == PixelImage.fromUnitFloats(end.data, width: 28, height: 28).pixels)
    }

    @Test func traversalsHaveOneRowPerDimension() throws {
        let model = try Self.model()
        let sheet = SampleSheets.traversals(model, image: Self.images(1), dimensions: 10, steps: 11)
        #expect(sheet.width == 11 * 29 + 1 && sheet.height == 10 * 29 + 1)
        var g = SeededGenerator(seed: 1)
        let samples = SampleSheets.samples(model, rows: 8, scale: 3, generator: &g)
        #expect(samples.width == 3 * (8 * 29 + 1))
    }

    /// Each traversal row is captioned with its latent dimension and range; the sheet grows by the caption bands only.
    @Test func traversalCaptionsNameTheDimensionAndRangeOfEachRow() throws {
        let captions = SampleSheets.traversalCaptions(run: "vae_std_z20", dimensions: 3, steps: 11, range: 2.5)
        #expect(captions.rowLabels == ["z0 from -2.5 to +2.5", "z1 from -2.5 to +2.5", "z2 from -2.5 to +2.5"])
        #expect(captions.columnLabels.map(\.column) == [0, 5, 10] && captions.columnLabels.map(\.text) == ["-2.5", "0", "+2.5"])
        #expect(captions.title.first == "vae_std_z20")
        #expect(SampleSheets.traversalCaptions(run: "r", dimensions: 1, steps: 5, range: 3).rowLabels == ["z0 from -3 to +3"])

        let model = try Self.model()
        let plain = SampleSheets.traversals(model, image: Self.images(1), dimensions: 4, steps: 11, range: 2.5)
        let sheet = try SampleSheets.captionedTraversals(model, run: "vae_std_z20", image: Self.images(1), dimensions: 4,
                                                         steps: 11, range: 2.5)
        let layout = try CaptionedSheet.layout(grid: ImageGrid(rows: 4, columns: 11),
                                               captions: SampleSheets.traversalCaptions(run: "vae_std_z20", dimensions: 4, steps: 11, range: 2.5))
        #expect(sheet.width == plain.width + layout.rowLabelWidth && sheet.height == plain.height + layout.gridY)
        // The grid inside is the uncaptioned sheet, byte for byte.
        for y in 0..<plain.height { #expect((0..<plain.width).allSatisfy { sheet[x: layout.gridX + $0, y: layout.gridY + y] == plain[x: $0, y: y] }) }
    }

    @Test func reconstructionAndInterpolationCaptionsSayWhatEachRowHolds() throws {
        let reconstructions = SampleSheets.reconstructionCaptions(run: "r", pairs: 2, columns: 8)
        #expect(reconstructions.rowLabels == ["originals 0-7", "reconstructions", "originals 8-15", "reconstructions"])
        let interpolations = SampleSheets.interpolationCaptions(run: "r", rows: 2, steps: 10)
        #expect(interpolations.rowLabels == ["a = test 0, b = test 1", "a = test 2, b = test 3"])
        #expect(interpolations.columnLabels == [.init(column: 0, text: "a"), .init(column: 9, text: "b")])
        let samples = SampleSheets.samplesCaptions(run: "wae", sampler: "gmm", count: 64)
        #expect(samples.title == ["wae", "64 samples, gmm sampler"] && samples.rowLabels.isEmpty)

        let model = try Self.model()
        let x = Self.images(32)
        let plain = SampleSheets.reconstructions(model, images: x, pairs: 2, columns: 8, scale: 2)
        let sheet = try SampleSheets.captionedReconstructions(model, run: "r", images: x, pairs: 2, columns: 8, scale: 2)
        #expect(sheet.width > plain.width && sheet.height > plain.height)
        var g = SeededGenerator(seed: 1), h = SeededGenerator(seed: 1)
        let titled = try SampleSheets.captionedSamples(model, run: "vae_std_z20", rows: 4, generator: &g)
        let untitled = SampleSheets.samples(model, rows: 4, generator: &h)
        #expect(titled.height > untitled.height && titled.width >= untitled.width)
        // The samples sit below the title band, unchanged.
        let top = titled.height - untitled.height
        #expect((0..<untitled.height).allSatisfy { y in (0..<untitled.width).allSatisfy { titled[x: $0, y: top + y] == untitled[x: $0, y: y] } })
    }
}
