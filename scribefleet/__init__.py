"""scribefleet: shared vocabulary and pure logic used by the Lambdas, the GPU worker and the local tooling."""
