import Autodiff
import Evaluation
import Imaging
import Models
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
}
