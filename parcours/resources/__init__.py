"""The resource base: data·inclusion structures and services, the funders' trainings, their
import, their search by place, theme and text, and the weekly hours a plan adds up to."""
