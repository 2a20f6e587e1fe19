package io.fractal.it;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;

/** The distribution as a whole: every bundle of it resolves and starts. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class DistributionIT extends FractalTestSupport {

    @Test
    public void everyBundleIsActive() {
        await("every bundle active").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> {
                    List<String> notActive = new ArrayList<>();
                    for (Bundle bundle : context.getBundles()) {
                        boolean fragment = bundle.getHeaders().get(Constants.FRAGMENT_HOST) != null;
                        int expected = fragment ? Bundle.RESOLVED : Bundle.ACTIVE;
                        if (bundle.getState() != expected) {
                            notActive.add(bundle.getSymbolicName() + " " + bundle.getVersion() + " in state " + bundle.getState());
                        }
                    }
                    assertTrue("bundles not active: " + notActive, notActive.isEmpty());
                });
    }
}
