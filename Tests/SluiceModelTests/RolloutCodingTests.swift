import Foundation
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct RolloutCodingTests {
    @Test func everyFieldRoundTripsThroughJSON() throws {
        var rollout = Rollout(metadata: ObjectMeta(name: "checkout", namespace: "shop"), spec: EveryFieldSet.rolloutSpec)
        rollout.status = EveryFieldSet.rolloutStatus
        let data = try JSONEncoder().encode(rollout)
        #expect(try JSONDecoder().decode(Rollout.self, from: data) == rollout)
        let template = EveryFieldSet.analysisTemplate
        #expect(try JSONDecoder().decode(AnalysisTemplate.self, from: JSONEncoder().encode(template)) == template)
    }

    @Test func everyFieldSetLeavesNoFieldUnset() {
        #expect(EveryFieldSet.unsetFields(in: EveryFieldSet.rolloutSpec) == [])
        #expect(EveryFieldSet.unsetFields(in: EveryFieldSet.rolloutStatus) == [])
        #expect(EveryFieldSet.unsetFields(in: EveryFieldSet.analysisTemplate.spec) == [])
    }

    @Test func unsetFieldsFindsWhatIsMissing() {
        let spec = Rollout.fixture().spec
        let unset = EveryFieldSet.unsetFields(in: spec)
        #expect(unset.contains(".canaryReplicas"))
        #expect(unset.contains(".strategy.blueGreen"))
    }

    @Test func decodesTheDesignExampleFromYAML() throws {
        let yaml = """
            apiVersion: sluice.dev/v1alpha1
            kind: Rollout
            metadata: {name: checkout, namespace: shop}
            spec:
              workloadRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}
              trafficRouting:
                istio:
                  virtualServices:
                    - name: checkout
                      routes: [primary]
                  stableService: checkout-stable
                  canaryService: checkout-canary
              canaryReplicas: {proportional: true, min: 1}
              strategy:
                canary:
                  steps:
                    - setWeight: 5
                    - pause: {duration: 2m}
                    - analysis: {templates: [{name: success-rate}, {name: latency-p99}]}
                    - setMirror: {percentage: 10, methods: [GET]}
                    - setHeaderRoute: {name: insiders, match: [{headers: {x-canary: {exact: "1"}}}]}
                    - setWeight: 50
                    - pause: {}
                  analysis:
                    templates: [{name: success-rate}]
                    args: [{name: service, value: checkout-canary}]
                    startingStep: 1
            """
        let doc = try #require(try ManifestParser.parse(yaml).first)
        let (manifest, problems) = doc.manifest()
        #expect(problems == [])
        guard case .rollout(let rollout) = manifest else { Issue.record("not a rollout"); return }
        let steps = try #require(rollout.spec.strategy.canary?.steps)
        #expect(steps.count == 7)
        #expect(steps[0].kind == .setWeight(5))
        #expect(steps[1].pause?.duration?.seconds == 120)
        #expect(steps[4].setHeaderRoute?.match[0].headers["x-canary"]?.exact == "1")
        #expect(steps[6].kind == .pause(PauseStep()))
        #expect(rollout.spec.strategy.canary?.analysis?.startingStep == 1)
    }

    @Test func unknownFieldsAreReportedWithPaths() throws {
        let yaml = """
            apiVersion: sluice.dev/v1alpha1
            kind: Rollout
            metadata: {name: checkout}
            spec:
              workloadRef: {name: checkout, apiVersion: apps/v1, kind: Deployment}
              trafficRouting: {istio: {virtualServices: [{name: checkout}], stableService: a, canaryService: b}}
              strategy:
                canary:
                  steps:
                    - setWieght: 20
                    - pause: {duraton: 1m}
              progressDeadline: 600
            """
        let doc = try #require(try ManifestParser.parse(yaml).first)
        let (manifest, problems) = doc.manifest()
        #expect(manifest != nil)
        #expect(problems.map(\.path) == ["spec.progressDeadline", "spec.strategy.canary.steps[0].setWieght",
                                          "spec.strategy.canary.steps[1].pause.duraton"])
        #expect(problems.allSatisfy { $0.message.hasPrefix("unknown field") })
        #expect(doc.line(of: problems[1].path) == 10)
    }

    @Test func decodingErrorsNameTheField() throws {
        func problems(_ yaml: String) throws -> [SpecProblem] {
            try ManifestParser.parse(yaml)[0].manifest().problems
        }
        let badEnum = try problems("""
            apiVersion: sluice.dev/v1alpha1
            kind: AnalysisTemplate
            metadata: {name: t}
            spec:
              metrics:
                - name: m
                  noData: maybe
                  provider: {prometheus: {query: up}}
            """)
        #expect(badEnum == [SpecProblem("spec.metrics[0].noData", "'maybe' is not one of inconclusive, failure, success")])
        let missing = try problems("""
            apiVersion: sluice.dev/v1alpha1
            kind: Rollout
            metadata: {name: r}
            spec: {trafficRouting: {}, strategy: {}}
            """)
        #expect(missing == [SpecProblem("spec.workloadRef", "required field is missing")])
        let wrongType = try problems("""
            apiVersion: sluice.dev/v1alpha1
            kind: Rollout
            metadata: {name: r}
            spec:
              workloadRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}
              trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
              strategy: {canary: {steps: [{setWeight: "half"}]}}
            """)
        #expect(wrongType == [SpecProblem("spec.strategy.canary.steps[0].setWeight", "expected an integer")])
        let version = try problems("apiVersion: sluice.dev/v1\nkind: Rollout\nmetadata: {name: r}\n")
        #expect(version == [SpecProblem("apiVersion", "'sluice.dev/v1' is not served; use sluice.dev/v1alpha1")])
    }

    @Test func podTemplateImagesAndWeights() {
        let template = PodTemplateSpec(spec: ["initContainers": [["image": "busybox:1"]],
                                              "containers": [["name": "app", "image": "shop/checkout:1.2"]]])
        #expect(template.images == ["busybox:1", "shop/checkout:1.2"])
        #expect(Weights(canary: 20) == Weights(stable: 80, canary: 20))
    }
}

@Suite struct TimelineBoundTests {
    @Test func aFullTimelineDropsItsOldestChangeButKeepsTheStartAndTheMeasurements() {
        var release = ReleaseRecord(revision: "abc", images: ["shop/checkout:2"], startedAt: KubeTime(secondsSince1970: 0))
        release.append(TimelineEntry(at: KubeTime(secondsSince1970: 0), type: .phase))
        release.append(TimelineEntry(at: KubeTime(secondsSince1970: 1), type: .measurement))
        for i in 2..<1000 {
            var entry = TimelineEntry(at: KubeTime(secondsSince1970: Double(i)), type: .weights)
            entry.weights = Weights(stable: 100 - i % 100, canary: i % 100)
            release.append(entry)
        }
        #expect(release.timeline.count == ReleaseRecord.maxTimelineEntries)
        #expect(release.timeline.first?.type == .phase, "the release's start stays")
        #expect(release.timeline.filter { $0.type == .measurement }.count == 1, "measurements are bounded on their own")
        #expect(release.timeline.last?.at == KubeTime(secondsSince1970: 999), "the newest change is kept")
        #expect(release.timeline[2].at == KubeTime(secondsSince1970: Double(1000 - ReleaseRecord.maxTimelineEntries + 2)))
    }
}
