package io.cowherd.qcow2;

import io.cowherd.CowBackend;
import io.cowherd.testkit.BackendContractTest;

/** The qcow2 backend against the shared contract kit. */
class Qcow2BackendContractTest extends BackendContractTest {
    @Override
    protected CowBackend backend() {
        return new Qcow2Backend();
    }
}
