package io.fractal.repository.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Fractal model repository", description = "Where models and their versions are kept.")
@interface RepositoryConfiguration {

    String PID = "io.fractal.repository";

    @AttributeDefinition(name = "Data folder", description = "Folder of the stored models; empty means "
            + "${fractal.home}/data/models.")
    String data_dir() default "";
}
