package frontdesk.hapi;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchClientAutoConfiguration;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchRestClientAutoConfiguration;
import org.springframework.boot.autoconfigure.quartz.QuartzAutoConfiguration;
import org.springframework.boot.autoconfigure.thymeleaf.ThymeleafAutoConfiguration;

/**
 * Entry point of the local HAPI FHIR R4 JPA server (in-memory H2).
 *
 * <p>One process is one EHR: hapi.sh starts this jar twice, on two ports, so the
 * two EHRs share nothing (own database, own id space).
 *
 * <p>Excluded auto-configurations come in only because HAPI drags their
 * libraries onto the classpath: HAPI runs its own Quartz scheduler (Boot's
 * would start a second one), the Elasticsearch client would be built for a
 * server we don't have, and Thymeleaf is only used by HAPI's narratives.
 */
@SpringBootApplication(
        exclude = {
            QuartzAutoConfiguration.class,
            ElasticsearchClientAutoConfiguration.class,
            ElasticsearchRestClientAutoConfiguration.class,
            ThymeleafAutoConfiguration.class
        })
public class HapiServerApplication {

    public static void main(String[] args) {
        SpringApplication.run(HapiServerApplication.class, args);
    }
}
