import Foundation
import SluiceModel
import SluiceTestKit
import Testing

/// Istio objects belong to their users: decoding and encoding one must keep every field.
@Suite struct IstioRoundTripTests {
    static let files = RepositoryFiles.yamlFiles(in: RepositoryFiles.sharedFixtures.appendingPathComponent("istio/examples"))

    @Test func fixturesArePresent() {
        #expect(IstioRoundTripTests.files.count >= 5, "shared Istio examples not found at \(RepositoryFiles.sharedFixtures.path)")
    }

    @Test(arguments: files)
    func roundTripsWithoutLosingFields(file: URL) throws {
        let docs = try ManifestParser.parse(String(contentsOf: file, encoding: .utf8))
        var checked = 0
        for doc in docs {
            let (manifest, problems) = doc.manifest()
            #expect(problems.isEmpty, "\(problems)")
            let encoded: JSONValue
            switch manifest {
            case .virtualService(let vs): encoded = try JSONValue(encoding: vs)
            case .destinationRule(let dr): encoded = try JSONValue(encoding: dr)
            default: continue
            }
            #expect(encoded == doc.json, "\(file.lastPathComponent) document \(doc.index) changed in a round trip")
            checked += 1
        }
        #expect(checked > 0, "\(file.lastPathComponent) holds no VirtualService or DestinationRule")
    }

    @Test func changingWeightsKeepsEverythingElse() throws {
        let text = try RepositoryFiles.fixture("istio/examples/virtual-service-reviews-80-20.yaml")
        let doc = try #require(try ManifestParser.parse(text).first)
        var vs = try doc.decode(VirtualService.self).get()
        var route = vs.spec.http[0]
        route.route[0].weight = 50
        route.route[1].weight = 50
        vs.spec.http[0] = route
        let after = try JSONValue(encoding: vs)
        #expect(after["spec"]?["http"]?.array?[0]["route"]?.array?[1]["weight"] == .number(50))
        #expect(after["spec"]?["hosts"] == doc.json["spec"]?["hosts"])
        #expect(after["spec"]?["http"]?.array?[0]["route"]?.array?[1]["destination"]
            == doc.json["spec"]?["http"]?.array?[0]["route"]?.array?[1]["destination"])
        #expect(vs.spec.http[0].route.map { $0.destination.subset } == ["v1", "v2"])
    }

    @Test func readsMirrorAndSubsets() throws {
        let mirror = try ManifestParser.parse(try RepositoryFiles.fixture("istio/examples/virtual-service-httpbin-mirror.yaml"))
        let vs = try mirror[0].decode(VirtualService.self).get()
        #expect(vs.spec.http[0].mirror?.subset == "v2")
        #expect(vs.spec.http[0].mirrorPercentage == 100)
        let rule = try ManifestParser.parse(try RepositoryFiles.fixture("istio/examples/destination-rule-reviews.yaml"))
        let dr = try rule[0].decode(DestinationRule.self).get()
        #expect(dr.spec.subsets.map(\.name) == ["v1", "v2", "v3"])
        #expect(dr.spec.subsets[1].labels == ["version": "v2"])
    }
}
