"""Training requests to a training's funder (the Région, France Travail): a child workflow of
the journey, decided from the funders' console or by the funder's own system."""
