package io.fractal.repository.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal model repository", description = "Where models and their versions are kept.")
@interface RepositoryConfiguration {

    String PID = "io.fractal.repository";

    @AttributeDefinition(name = "Data folder", description = "Folder of the stored models; empty means "
            + "${fractal.home}/data/models.")
    String data_dir() default "";

    @AttributeDefinition(name = "Swap timeout", description = "Seconds a new version that replaces the default "
            + "waits for a modelhost to report it READY; after that it becomes the default anyway.")
    int swap_timeout_seconds() default 300;
}
